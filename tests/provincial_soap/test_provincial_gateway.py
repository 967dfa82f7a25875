"""The provincial-soap adapter through the gateway, over real sockets, against simulated provinces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest
from tests.provincial_soap.conftest import (
    GUANGDONG,
    HENAN,
    TODAY,
    closed_port,
    guangdong_partner,
    henan_partner,
)

from ssgateway.errors import NotFound, PermanentError
from ssgateway.model import (
    ContributionHistory,
    PersonRecord,
    TransferAcceptance,
    TransferCertificate,
)
from ssgateway.runtime import Gateway
from ssgateway.testing.dialect import REFERENCE_DIALECT
from ssgateway.testing.envelopes import EnvelopeWriter
from ssgateway.testing.faultplan import FaultKind
from ssgateway.testing.population import Population, SyntheticPerson
from ssgateway.testing.provincial import ProvincialSimulator

QUICK_RETRY = {"attempts": 3, "initial_backoff": 0.01, "max_backoff": 0.05}


def paid_months(population: Population, citizen_id: str, prefix: str) -> set[tuple[int, int]]:
    return {
        (r.period.year, r.period.month)
        for r in population.contributions(citizen_id, prefix)
        if r.paid_status == "1"
    }


async def test_all_four_operations(
    gateway: Callable[..., Gateway],
    henan: ProvincialSimulator,
    population: Population,
    mover: SyntheticPerson,
) -> None:
    cid = mover.citizen_id
    async with gateway({"henan": henan_partner(henan)}) as gw:
        found = (await gw.call("person.lookup", {"citizen_id": cid, "region": HENAN})).response
        assert isinstance(found, PersonRecord)
        assert found.person.name.reveal() == mover.name and str(found.person.citizen_id.reveal()) == cid
        assert found.person.provenance is None or found.person.provenance.source_system == "henan"
        expected = population.enrolments(cid, "41")
        assert [e.insurance_type.raw for e in found.enrollments] == [e.insurance_type for e in expected]

        history = (await gw.call("contributions.history", {"citizen_id": cid, "regions": [HENAN]})).response
        assert isinstance(history, ContributionHistory) and history.complete
        rows = population.contributions(cid, "41")
        assert len(history.records) == len(rows) and not history.rejections
        assert {str(r.region)[:2] for r in history.records} == {"41"}
        first = history.records[0]
        assert first.provenance is not None and first.provenance.source_system == "henan"
        assert first.provenance.mapping == "provincial-soap/query-contributions@1"

        asked = {"citizen_id": cid, "from_region": HENAN, "to_region": GUANGDONG}
        certificate = (await gw.call("transfer.certificate", asked)).response
        assert isinstance(certificate, TransferCertificate)
        issued = henan.certificates[certificate.certificate_number]
        assert (
            certificate.pooled_amount == issued.pooled_amount
        )  # the canonical rule agrees with the province
        assert certificate.individual_account.from_2006 == issued.from_2006
        assert certificate.issued_on == TODAY and str(certificate.to_region) == GUANGDONG

        submission = {
            "certificate_number": certificate.certificate_number,
            "citizen_id": cid,
            "from_region": HENAN,
            "to_region": GUANGDONG,
            "receiving_account": "44-POOL-0001",
        }
        accepted = (await gw.call("transfer.submit", submission, idempotency_key="move-1")).response
        assert isinstance(accepted, TransferAcceptance)
        (entry,) = henan.ledger.entries
        assert accepted.letter_number == entry.letter_number
        assert (str(accepted.from_region), str(accepted.to_region)) == (HENAN, GUANGDONG)
        assert accepted.accepted_at is not None


async def test_a_reset_after_the_province_committed_is_retried_into_one_acceptance(
    gateway: Callable[..., Gateway], henan: ProvincialSimulator, mover: SyntheticPerson
) -> None:
    async with gateway({"henan": henan_partner(henan)}, defaults={"retry": QUICK_RETRY}) as gw:
        asked = {"citizen_id": mover.citizen_id, "from_region": HENAN, "to_region": GUANGDONG}
        certificate = (await gw.call("transfer.certificate", asked)).response
        assert isinstance(certificate, TransferCertificate)
        reset = henan.faults.add(FaultKind.RESET, operations="AcceptTransfer", times=1)
        submission = {
            "certificate_number": certificate.certificate_number,
            "citizen_id": mover.citizen_id,
            "from_region": HENAN,
            "to_region": GUANGDONG,
            "receiving_account": "44-POOL-0001",
        }
        result = await gw.call("transfer.submit", submission, idempotency_key="move-1", caller="pension")
        metrics = gw.metrics.render().decode()
    assert reset.fired == 1
    assert henan.ledger.attempts == 2  # the first acceptance was committed, then its answer was lost
    (entry,) = henan.ledger.entries  # ... and the resend was recognised, not recorded again
    assert isinstance(result.response, TransferAcceptance)
    assert result.response.letter_number == entry.letter_number
    assert 'ssgateway_retries_total{operation="transfer.submit",partner="henan"} 1.0' in metrics


async def test_a_history_across_two_provinces_merges_and_reports_the_gap(
    gateway: Callable[..., Gateway],
    henan: ProvincialSimulator,
    guangdong: ProvincialSimulator,
    population: Population,
    mover: SyntheticPerson,
) -> None:
    cid = mover.citizen_id
    partners = {"henan": henan_partner(henan), "guangdong": guangdong_partner(guangdong)}
    async with gateway(partners) as gw:
        history = (await gw.call("contributions.history", {"citizen_id": cid})).response
    assert isinstance(history, ContributionHistory)
    assert history.complete and history.regions == ["410000", "440000"]
    assert sorted((s.partner, s.ok) for s in history.sources) == [("guangdong", True), ("henan", True)]
    months = paid_months(population, cid, "41") | paid_months(population, cid, "44")
    assert history.total_months == len(months)
    guangdong_spell, henan_spell = mover.spells
    gap = (guangdong_spell.end.next(), henan_spell.start.previous())
    assert (gap[0], gap[1]) in [(g.start, g.end) for g in history.gaps]


async def test_a_province_down_gives_a_partial_history_naming_it(
    gateway: Callable[..., Gateway],
    henan: ProvincialSimulator,
    population: Population,
    mover: SyntheticPerson,
) -> None:
    down = henan_partner(henan) | {"regions": ["44"]}
    down["config"] = down["config"] | {"endpoint": f"http://127.0.0.1:{closed_port()}/provincial"}
    partners = {"henan": henan_partner(henan), "guangdong": down}
    async with gateway(partners, defaults={"retry": QUICK_RETRY}) as gw:
        history = (await gw.call("contributions.history", {"citizen_id": mover.citizen_id})).response
    assert isinstance(history, ContributionHistory)
    assert not history.complete
    assert history.total_months == len(paid_months(population, mover.citizen_id, "41"))
    (failed,) = [s for s in history.sources if not s.ok]
    assert (failed.partner, failed.region, failed.error_code) == ("guangdong", "44", "partner.unavailable")
    assert failed.error is not None and "could not be sent" in failed.error


async def test_unknown_people_and_certificates(
    gateway: Callable[..., Gateway], henan: ProvincialSimulator, population: Population
) -> None:
    stranger = next(p for p in population.people if not p.spells_in("41"))
    async with gateway({"henan": henan_partner(henan)}) as gw:
        with pytest.raises(NotFound) as lookup:
            await gw.call("person.lookup", {"citizen_id": stranger.citizen_id, "region": HENAN})
        # Not known in a province: no records from it, and not a failure of the history.
        history = (await gw.call("contributions.history", {"citizen_id": stranger.citizen_id})).response
        submission = {
            "certificate_number": "ZY41-NEVER-ISSUED",
            "citizen_id": stranger.citizen_id,
            "from_region": HENAN,
            "to_region": GUANGDONG,
            "receiving_account": "44-POOL-0001",
        }
        with pytest.raises(NotFound) as submit:
            await gw.call("transfer.submit", submission, idempotency_key="never")
    assert (lookup.value.code, lookup.value.details["partner_code"]) == ("person.not_found", "E2001")
    assert stranger.citizen_id not in lookup.value.message
    assert lookup.value.http_status == 404
    assert isinstance(history, ContributionHistory) and history.complete and not history.records
    assert (submit.value.code, submit.value.details["partner_code"]) == ("certificate.not_found", "E3004")
    assert len(henan.ledger) == 0


async def test_a_refusal_keeps_the_province_code_and_is_not_retried(
    gateway: Callable[..., Gateway], henan: ProvincialSimulator, mover: SyntheticPerson
) -> None:
    async with gateway({"henan": henan_partner(henan)}, defaults={"retry": QUICK_RETRY}) as gw:
        asked = {"citizen_id": mover.citizen_id, "from_region": HENAN, "to_region": "410302"}
        with pytest.raises(PermanentError) as refused:
            await gw.call("transfer.certificate", asked)
    assert refused.value.partner_code == "E3002"  # the target division is in this province
    assert refused.value.partner == "henan"
    assert henan.calls["IssueTransferCertificate"] == 1


async def test_busy_provinces_are_retried(
    gateway: Callable[..., Gateway], henan: ProvincialSimulator, mover: SyntheticPerson
) -> None:
    busy = henan.faults.add(FaultKind.FAULT, operations="QueryPerson", times=2, code="Server.Busy")
    async with gateway({"henan": henan_partner(henan)}, defaults={"retry": QUICK_RETRY}) as gw:
        found = (await gw.call("person.lookup", {"citizen_id": mover.citizen_id, "region": HENAN})).response
    assert isinstance(found, PersonRecord) and busy.fired == 2
    assert henan.calls["QueryPerson"] == 3


async def test_a_long_history_streams_through_the_gateway(
    gateway: Callable[..., Gateway],
    henan: ProvincialSimulator,
    population: Population,
    mover: SyntheticPerson,
) -> None:
    rows = 10_000  # bench/soap.py streams 100,000 and reports the memory
    henan.add_bulk_history(mover.citizen_id, rows)
    partner = henan_partner(henan, stream_timeout=120) | {"timeout": 120}
    async with gateway({"henan": partner}) as gw:
        history = (await gw.call("contributions.history", {"citizen_id": mover.citizen_id})).response
    assert isinstance(history, ContributionHistory) and history.complete
    generated = list(population.bulk_contributions(mover.citizen_id, rows, "41"))
    # identical rows (same month, insurance, region and amounts) are one record in a history
    distinct = {
        (r.region, r.insurance_type, r.period, r.employer_amount, r.individual_amount) for r in generated
    }
    assert len(history.records) == len(distinct)
    assert history.sources[0].records == len(distinct)


async def test_rows_that_do_not_validate_reach_the_caller_as_rejections(
    gateway: Callable[..., Gateway],
    henan: ProvincialSimulator,
    population: Population,
    mover: SyntheticPerson,
) -> None:
    rows = list(population.contributions(mover.citizen_id, "41"))
    rows[3] = replace(rows[3], insurance_type="999")
    answer = EnvelopeWriter(REFERENCE_DIALECT).contributions(mover.citizen_id, rows)
    henan.faults.add(FaultKind.BODY, operations="QueryContributions", body=answer)
    async with gateway({"henan": henan_partner(henan)}) as gw:
        history = (await gw.call("contributions.history", {"citizen_id": mover.citizen_id})).response
    assert isinstance(history, ContributionHistory)
    assert not history.complete and len(history.records) == len(rows) - 1
    (rejected,) = history.rejections
    assert (rejected.source, rejected.position, rejected.field, rejected.raw) == (
        "henan",
        4,
        "insurance_type",
        "999",
    )
    assert all(s.ok for s in history.sources)  # the province answered; one of its rows is unusable
