"""What the simulated medical-insurance platform holds: person information (1101) and reported deaths.

Person information is derived from the person's spells, as the pension side knows them: one
``insuinfo`` entry per province the person contributed in (employee medical insurance, ``insutype`` 310;
the latest spell there), with the personal account balance the sum of the medical individual
contributions there. Retirees keep their insurance (``psn_type`` 21); people who moved on are terminated
there (``psn_insu_stas`` 4), people with a gap suspended (2). A few people hold a special identity
(``idetinfo``), chosen by their index.

Deaths are kept in a :class:`DeathLedger`, one per person and date of death.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ssgateway.testing._people import SyntheticPerson, shift
from ssgateway.testing.population import Population

__all__ = ["DeathLedger", "DeathReport", "person_information"]

_MEDICAL = "310"


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _insurances(population: Population, person: SyntheticPerson, retired: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    as_of = population.as_of
    for province in person.provinces:
        spells = person.spells_in(province)
        last = spells[-1]
        current = last is person.spells[-1]
        ongoing = current and (last.end == as_of or retired)
        status = "1" if ongoing else "4" if not current else "2"
        paused = None if ongoing else shift(last.end, 1)
        balance = sum(
            (
                r.individual_amount
                for r in population.contributions(person.citizen_id, province)
                if r.insurance_type == _MEDICAL
            ),
            Decimal("0.00"),
        )
        found.append(
            {
                "balc": balance,
                "insutype": _MEDICAL,
                "psn_type": "21" if retired and current else "11",
                "psn_insu_stas": status,
                "psn_insu_date": f"{spells[0].start.year:04d}-{spells[0].start.month:02d}-01",
                "paus_insu_date": f"{paused.year:04d}-{paused.month:02d}-01" if paused else None,
                "cvlserv_flag": "0",
                "insuplc_admdvs": last.region,
                "emp_name": last.employer.name if last.employer else "灵活就业人员",
            }
        )
    if not found:  # never contributed: insured as a resident where the id was issued
        found.append(
            {
                "balc": Decimal("0.00"),
                "insutype": "390",
                "psn_type": "31",
                "psn_insu_stas": "1",
                "psn_insu_date": f"{as_of.year:04d}-01-01",
                "paus_insu_date": None,
                "cvlserv_flag": "0",
                "insuplc_admdvs": person.citizen_id[:6],
                "emp_name": "",
            }
        )
    return found


def _identities(person: SyntheticPerson) -> list[dict[str, Any]]:
    found = []
    if person.index % 9 == 4:
        found.append(
            {
                "psn_idet_type": "2301",
                "psn_type_lv": "1",
                "memo": "",
                "begntime": "2020-01-01 00:00:00",
                "endtime": None,
            }
        )
    if person.index % 13 == 7:
        found.append(
            {
                "psn_idet_type": "2601",
                "psn_type_lv": "2",
                "memo": "",
                "begntime": "2018-07-01 00:00:00",
                "endtime": None,
            }
        )
    return found


def person_information(population: Population, person: SyntheticPerson, *, deceased: bool) -> dict[str, Any]:
    """The ``output`` of transaction 1101 for ``person`` (balances as ``Decimal``)."""
    as_of = population.as_of
    today = date(as_of.year, as_of.month, 28)
    age = _age(person.birth_date, today)
    retired = age >= (60 if person.gender == "1" else 50)
    province = person.spells[-1].province if person.spells else person.citizen_id[:2]
    return {
        "baseinfo": {
            "psn_no": person.person_number(province),
            "psn_cert_type": "01",
            "certno": person.citizen_id,
            "psn_name": person.name,
            "gend": person.gender,
            "naty": "01",
            "brdy": person.birth_date.isoformat(),
            "age": age,
            "surv_stas": "2" if deceased else "1",
        },
        "insuinfo": _insurances(population, person, retired),
        "idetinfo": _identities(person),
    }


@dataclass(frozen=True, slots=True)
class DeathReport:
    """One death the platform recorded."""

    report_number: str
    certno: str
    name: str
    date_of_death: str
    data: dict[str, Any]
    """The report's ``input.data`` as received."""
    msgid: str
    received_at: datetime


class DeathLedger:
    """Recorded deaths, one per person and date of death (thread-safe).

    Attributes:
        attempts: reports received, repeats included.
    """

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], DeathReport] = {}
        self._lock = threading.Lock()
        self.attempts = 0

    def record(self, data: dict[str, Any], msgid: str, at: datetime) -> tuple[DeathReport, bool]:
        """Record a report, or find the one recorded before; returns it and whether it is new."""
        key = (str(data.get("certno", "")).upper(), str(data.get("die_date", "")))
        with self._lock:
            self.attempts += 1
            existing = self._entries.get(key)
            if existing is not None:
                return existing, False
            number = f"SW{at:%Y%m%d}{len(self._entries) + 1:08d}"
            report = DeathReport(number, key[0], str(data.get("psn_name", "")), key[1], dict(data), msgid, at)
            self._entries[key] = report
            return report, True

    def deceased(self, certno: str) -> bool:
        """Whether a death of this person was recorded."""
        with self._lock:
            return any(c == certno for c, _ in self._entries)

    @property
    def entries(self) -> tuple[DeathReport, ...]:
        """Every recorded death, in order."""
        with self._lock:
            return tuple(self._entries.values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
