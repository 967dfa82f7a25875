"""Simulated civil affairs: deaths reported the way a civil-affairs office reports them.

Civil affairs is a source, not a service the gateway calls. It *pushes* each death notice to the sidecar
(``POST /v1/ops/deaths.notify``), often more than once — a clerk's resubmission, a retry after a lost
answer, each with a fresh ``Idempotency-Key`` because the sending system keeps none — and it sends its daily
*CSV batch* (the columns of the shipped ``civil-affairs/death-notice-csv`` mapping), where yesterday's
pushed deaths appear again. Both must end as one event per death.

:class:`CivilAffairsSimulator` makes notices for people of a :class:`~ssgateway.testing.population.Population`
(the same person the provinces, the bank and the medical platform know), pushes them and writes batches.
Its :attr:`~CivilAffairsSimulator.faults` apply to pushes (operation ``deaths.notify``): ``LATENCY`` waits
before sending; ``RESET`` sends, waits for the answer to start, then drops the connection (the gateway
acted, the pusher never learns it); ``TRUNCATE`` sends half the body and drops the connection (nothing may
be recorded); ``MALFORMED`` sends the JSON cut in the middle as a complete request; ``OVERSIZED`` pads the
body to ``size`` bytes; ``BODY`` sends ``body`` instead of the notice. Other kinds do not apply to a sender.

>>> civil = CivilAffairsSimulator(Population.generate(seed=1, size=10), seed=1)
>>> notice = civil.death_of(civil.population.people[0].citizen_id)
>>> civil.batch([notice]).decode("utf-8-sig").splitlines()[0]
'SWBH,GMSFHM,XM,SWRQ,ZJLX,TBJG,XZQH,TBRQ'
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import random
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

from ssgateway.model import DeathNotice, EvidenceType
from ssgateway.testing.faultplan import FaultKind, FaultPlan, FaultRule
from ssgateway.testing.httpserver import reset_connection
from ssgateway.testing.population import Population

__all__ = ["BATCH_COLUMNS", "CivilAffairsSimulator", "Push"]

BATCH_COLUMNS = ("SWBH", "GMSFHM", "XM", "SWRQ", "ZJLX", "TBJG", "XZQH", "TBRQ")
"""The columns of a civil-affairs batch, in order (``civil-affairs/death-notice-csv``)."""

_EVIDENCE_CODES = {
    EvidenceType.MEDICAL_CERTIFICATE: "1",
    EvidenceType.POLICE_CERTIFICATE: "2",
    EvidenceType.CREMATION_RECORD: "3",
    EvidenceType.COURT_DECLARATION: "4",
}
_APPLIES = frozenset(
    {
        FaultKind.LATENCY,
        FaultKind.RESET,
        FaultKind.TRUNCATE,
        FaultKind.MALFORMED,
        FaultKind.OVERSIZED,
        FaultKind.BODY,
    }
)
_OPERATION = "deaths.notify"


@dataclass(frozen=True, slots=True)
class Push:
    """One push as the sender saw it.

    Attributes:
        idempotency_key: the key it carried.
        status: the HTTP status, or None when no answer was read (the connection was dropped).
        answer: the answer's JSON (a ``NoticeReceipt``, or a problem), when one was read.
        fault: the fault applied, if any.
    """

    idempotency_key: str
    status: int | None
    answer: dict[str, Any] | None
    fault: FaultKind | None = None

    @property
    def duplicate(self) -> bool | None:
        """The receipt's ``duplicate`` flag (None without a receipt)."""
        if self.status != 200 or self.answer is None:
            return None
        return bool(self.answer.get("duplicate"))


class CivilAffairsSimulator:
    """Civil affairs reporting deaths: pushes to the sidecar, CSV batches (see the module).

    Args:
        population: whose deaths it reports (default: ``Population.generate()``).
        seed: seeds the fault plan and the dates it picks.
        agency: the reporting agency (``TBJG``, ``source_agency``).
        region: the reporting division (``XZQH``).
        today: the report date of the notices it makes (default: the population's last month, day 28).

    Attributes:
        faults: the fault knobs (operation ``deaths.notify``).
        pushes: every push made, in order.
        url: the sidecar pushes go to; api_key: the key they carry (set by :meth:`target`).
    """

    def __init__(
        self,
        population: Population | None = None,
        *,
        seed: int = 0,
        agency: str = "郑州市民政局",
        region: str = "410105",
        today: date | None = None,
    ) -> None:
        self.population = population or Population.generate()
        self.seed = seed
        self.agency = agency
        self.region = region
        as_of = self.population.as_of
        self.today = today or date(as_of.year, as_of.month, 28)
        self.faults = FaultPlan(seed)
        self.pushes: list[Push] = []
        self.url = ""
        self.api_key = ""
        self.timeout = 30.0
        self._random = random.Random(seed)  # noqa: S311 - synthetic dates, not secrets

    # -- lifecycle (nothing to serve: it only sends) ------------------------------------------------------

    async def start(self) -> None:
        """Nothing to start: civil affairs connects out for each push."""

    async def stop(self) -> None:
        """Nothing to stop."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def target(self, url: str, api_key: str) -> Self:
        """Push to the sidecar at ``url`` (``http://127.0.0.1:PORT``) with ``api_key``."""
        self.url, self.api_key = url.rstrip("/"), api_key
        return self

    # -- notices ------------------------------------------------------------------------------------------

    def death_of(
        self,
        citizen_id: str,
        *,
        died_on: date | None = None,
        evidence: EvidenceType | str = EvidenceType.CREMATION_RECORD,
        notice_id: str | None = None,
    ) -> DeathNotice:
        """A notice of this person's death (died two days before ``today`` unless ``died_on``)."""
        person = self.population.person(citizen_id)
        if person is None:
            raise ValueError("not a person of the population")
        died = died_on or self.today - timedelta(days=2)
        return DeathNotice.model_validate(
            {
                "notice_id": notice_id or f"MZ{self.region[:4]}-{died:%Y%m%d}-{person.index:06d}",
                "citizen_id": person.citizen_id,
                "name": person.name,
                "date_of_death": died,
                "evidence": EvidenceType(evidence),
                "source_agency": self.agency,
                "region": self.region,
                "reported_on": self.today,
            }
        )

    def deaths(self, count: int, *, exclude: Iterable[str] = ()) -> list[DeathNotice]:
        """Notices of ``count`` people drawn from the population (seeded), each died on some recent day."""
        skip = set(exclude)
        people = [p for p in self.population.people if p.citizen_id not in skip]
        chosen = self._random.sample(people, count)
        return [
            self.death_of(p.citizen_id, died_on=self.today - timedelta(days=self._random.randint(1, 20)))
            for p in chosen
        ]

    # -- batches ------------------------------------------------------------------------------------------

    def batch(self, notices: Sequence[DeathNotice], *, extra_rows: Iterable[Mapping[str, str]] = ()) -> bytes:
        """A CSV batch of ``notices`` (UTF-8 with BOM, as the mapping reads it), then ``extra_rows`` as given.

        ``extra_rows`` are raw rows (column → text; missing columns are empty): bad ids, dates out of order,
        unknown evidence codes — what a batch may hold and the import must reject, naming the line.
        """
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=BATCH_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        for notice in notices:
            writer.writerow(
                {
                    "SWBH": notice.notice_id or "",
                    "GMSFHM": notice.citizen_id.reveal(),
                    "XM": notice.name.reveal(),
                    "SWRQ": f"{notice.date_of_death:%Y%m%d}",
                    "ZJLX": _EVIDENCE_CODES[notice.evidence],
                    "TBJG": notice.source_agency,
                    "XZQH": str(notice.region),
                    "TBRQ": f"{notice.reported_on:%Y%m%d}",
                }
            )
        for row in extra_rows:
            writer.writerow({column: row.get(column, "") for column in BATCH_COLUMNS})
        return text.getvalue().encode("utf-8-sig")

    def drop(
        self,
        inbox: Path,
        notices: Sequence[DeathNotice],
        *,
        name: str | None = None,
        extra_rows: Iterable[Mapping[str, str]] = (),
    ) -> Path:
        """Write a batch into ``inbox`` safely: a hidden temporary file, renamed into place once whole."""
        inbox.mkdir(parents=True, exist_ok=True)
        target = inbox / (name or f"deaths-{self.today:%Y%m%d}-{uuid.uuid4().hex[:6]}.csv")
        temporary = inbox / f".{target.name}.part"
        temporary.write_bytes(self.batch(notices, extra_rows=extra_rows))
        temporary.replace(target)
        return target

    # -- pushes -------------------------------------------------------------------------------------------

    async def push(
        self, notice: DeathNotice, *, times: int = 1, idempotency_key: str | None = None
    ) -> list[Push]:
        """Push ``notice`` ``times`` times, one after the other.

        Each push carries a fresh ``Idempotency-Key`` unless ``idempotency_key`` is given (then all carry
        it). Faults drawn from :attr:`faults` apply per push.
        """
        if not self.url:
            raise RuntimeError("no sidecar to push to: call target(url, api_key) first")
        body = notice.model_dump_json().encode()
        results = []
        for _ in range(times):
            key = idempotency_key or f"civil-{uuid.uuid4().hex}"
            results.append(await self._push(body, key))
        self.pushes.extend(results)
        return results

    async def _push(self, body: bytes, key: str) -> Push:
        rules = self.faults.draw(_OPERATION)
        for rule in rules:
            if rule.kind not in _APPLIES:
                raise ValueError(f"fault {rule.kind.value} does not apply to a sender")
        delay = sum(r.delay for r in rules if r.kind is FaultKind.LATENCY)
        primary = next((r for r in rules if r.kind is not FaultKind.LATENCY), None)
        if delay:
            await asyncio.sleep(delay)
        if primary is not None and primary.kind is FaultKind.MALFORMED:
            body = body[: len(body) // 2]
        elif primary is not None and primary.kind is FaultKind.OVERSIZED:
            body += b" " * max(0, primary.size - len(body))
        elif primary is not None and primary.kind is FaultKind.BODY:
            body = primary.body
        return await asyncio.wait_for(self._exchange(body, key, primary), self.timeout)

    async def _exchange(self, body: bytes, key: str, rule: FaultRule | None) -> Push:
        parts = urlsplit(self.url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        reader, writer = await asyncio.open_connection(host, port)
        kind = rule.kind if rule is not None else None
        try:
            head = (
                f"POST /v1/ops/{_OPERATION} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {self.api_key}\r\nContent-Type: application/json\r\n"
                f"Idempotency-Key: {key}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            if kind is FaultKind.TRUNCATE:
                writer.write(head + body[: len(body) // 2])
                await writer.drain()
                reset_connection(writer)
                return Push(key, None, None, kind)
            writer.write(head + body)
            await writer.drain()
            if kind is FaultKind.RESET:
                await reader.read(1)  # the answer starts: the gateway has acted; drop it unread
                reset_connection(writer)
                return Push(key, None, None, kind)
            raw = await reader.read()
        finally:
            if not writer.is_closing():
                writer.close()
        return _parse(key, raw, kind)


def _parse(key: str, raw: bytes, kind: FaultKind | None) -> Push:
    head, _, body = raw.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return Push(key, None, None, kind)
    chunked = b"transfer-encoding: chunked" in head.lower()
    if chunked:
        body = _dechunk(body)
    try:
        answer = json.loads(body) if body else None
    except ValueError:
        answer = None
    return Push(key, status, answer if isinstance(answer, dict) else None, kind)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";", 1)[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)
