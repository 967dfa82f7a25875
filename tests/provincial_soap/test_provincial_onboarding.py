"""Acceptance: a second province whose service uses other element names is onboarded with files only.

Guangdong runs the lower-case sandbox dialect (``aac002``, ``records/record``, ``zmbh``, ``lxh``, its own
namespace). Next to Henan on the reference contract, it is added to a gateway by a WSDL, a mapping set and
a configuration file — either the ones shipped in the package (what the sandbox runs), or a copy in the
operator's own directories under the operator's own mapping ids. Both provinces then answer all four
operations with the same canonical results.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from tests.provincial_soap.conftest import TODAY, closed_port

from ssgateway.config import load_config
from ssgateway.model import (
    ContributionHistory,
    PersonRecord,
    TransferAcceptance,
    TransferCertificate,
)
from ssgateway.resources import shipped_mappings_dir
from ssgateway.runtime import Gateway
from ssgateway.testing.dialect import LOWERCASE_DIALECT
from ssgateway.testing.population import Population, SyntheticPerson
from ssgateway.testing.provincial import ProvincialSimulator

CONFIG = """\
version: 1
store:
  url: sqlite:///gateway.db
mapping_paths: [{mapping_paths}]
partners:
  henan:
    adapter: provincial-soap
    regions: ["41"]
    config:
      endpoint: {henan}
      wsse:
        username: gateway
        password: ${{HENAN_SOAP_PASSWORD}}
  guangdong:
    adapter: provincial-soap
    regions: ["44"]
    config:
      endpoint: {guangdong}
{guangdong_files}
"""

SHIPPED = """\
      wsdl: sandbox/lowercase/v1/provincial.wsdl
      mappings: provincial-soap-lowercase
"""

LOCAL = """\
      contract_dir: contracts/guangdong
      wsdl: provincial.wsdl
      mappings: guangdong
"""


def onboard_locally(root: Path) -> None:
    """What an operator does: the province's WSDL and XSD, and a mapping set under ids of their own."""
    shutil.copytree(LOWERCASE_DIALECT.contract_dir, root / "contracts" / "guangdong")
    target = root / "mappings" / "guangdong"
    target.mkdir(parents=True)
    for source in sorted((shipped_mappings_dir() / "provincial-soap-lowercase").glob("*.yaml")):
        text = source.read_text(encoding="utf-8")
        text = re.sub(r"^id: provincial-soap-lowercase/", "id: guangdong/", text, flags=re.MULTILINE)
        (target / source.name).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("files", ["shipped", "local"])
async def test_a_province_with_other_element_names_is_onboarded_with_files_only(
    files: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    henan: ProvincialSimulator,
    guangdong: ProvincialSimulator,
    population: Population,
    mover: SyntheticPerson,
) -> None:
    monkeypatch.setenv("HENAN_SOAP_PASSWORD", "henan-secret")
    if files == "local":
        onboard_locally(tmp_path)
    config = tmp_path / "gateway.yaml"
    config.write_text(
        CONFIG.format(
            mapping_paths="mappings" if files == "local" else "",
            henan=henan.endpoint,
            guangdong=guangdong.endpoint,
            guangdong_files=LOCAL if files == "local" else SHIPPED,
        ),
        encoding="utf-8",
    )
    cid = mover.citizen_id
    async with Gateway.from_config(config) as gw:
        set_of = gw.adapters["guangdong"].exchanges["person.lookup"].response.spec.id  # type: ignore[attr-defined]
        assert set_of == (
            "guangdong/query-person" if files == "local" else "provincial-soap-lowercase/query-person"
        )

        people = {}
        for region, province in (("410105", "41"), ("440106", "44")):
            found = (await gw.call("person.lookup", {"citizen_id": cid, "region": region})).response
            assert isinstance(found, PersonRecord)
            assert found.person.person_number == mover.person_number(province)
            assert found.person.birth_date == mover.birth_date
            assert found.person.name.reveal() == mover.name
            expected = population.enrolments(cid, province)
            assert [(e.insurance_type.raw, e.enrollment_status.raw if e.enrollment_status else None)
                    for e in found.enrollments] == [(e.insurance_type, e.status) for e in expected]  # fmt: skip
            people[province] = found
        assert people["41"].person.gender == people["44"].person.gender

        history = (await gw.call("contributions.history", {"citizen_id": cid})).response
        assert isinstance(history, ContributionHistory) and history.complete
        for province in ("41", "44"):
            expected = {
                (r.region, r.period.year, r.period.month, r.insurance_type, r.record_type, r.base,
                 r.employer_amount, r.individual_amount, r.paid_on)
                for r in population.contributions(cid, province)
            }  # fmt: skip
            got = [
                (str(r.region), r.period.year, r.period.month, r.insurance_type.raw, r.record_type.raw, r.base,
                 r.employer_amount, r.individual_amount, r.paid_on)
                for r in history.records
                if str(r.region).startswith(province)
            ]  # fmt: skip
            assert sorted(got, key=str) == sorted(expected, key=str)
        spells = mover.spells
        assert (spells[0].end.next(), spells[1].start.previous()) in [(g.start, g.end) for g in history.gaps]

        for province, sim, home, away in (
            ("41", henan, "410105", "440106"),
            ("44", guangdong, "440106", "410105"),
        ):
            asked = {"citizen_id": cid, "from_region": home, "to_region": away}
            certificate = (await gw.call("transfer.certificate", asked)).response
            assert isinstance(certificate, TransferCertificate)
            issued = sim.certificates[certificate.certificate_number]
            assert certificate.issued_on == TODAY and certificate.from_region.startswith(province)
            assert certificate.pooled_amount == issued.pooled_amount
            assert [(y.year, y.months, y.base_total) for y in certificate.years] == [
                (y.year, y.months, y.base_total) for y in issued.years
            ]
            submission = {
                "certificate_number": certificate.certificate_number,
                "citizen_id": cid,
                "from_region": home,
                "to_region": away,
                "receiving_account": f"{away[:2]}-POOL-0001",
            }
            accepted = (
                await gw.call("transfer.submit", submission, idempotency_key=f"move-{province}")
            ).response
            assert isinstance(accepted, TransferAcceptance)
            (entry,) = sim.ledger.entries
            assert (accepted.letter_number, accepted.certificate_number) == (
                entry.letter_number,
                entry.certificate_number,
            )
            assert (str(accepted.from_region), str(accepted.to_region)) == (home, away)
    assert henan.calls["QueryPerson"] == guangdong.calls["QueryPerson"] == 1


SANDBOX = """\
version: 1
store:
  url: sqlite:///sandbox.db
defaults:
  retry: {attempts: 4, deadline: 30, initial_backoff: 0.2, max_backoff: 5}
partners:
  henan:
    adapter: provincial-soap
    regions: ["41"]
    timeout: 120
    config:
      endpoint: ${HENAN_SOAP_URL}
      wsse: {username: gateway, password: "${HENAN_SOAP_PASSWORD}"}
      stream_timeout: 110
  guangdong:
    adapter: provincial-soap
    regions: ["44"]
    timeout: 120
    config:
      endpoint: ${GUANGDONG_SOAP_URL}
      wsdl: sandbox/lowercase/v1/provincial.wsdl
      mappings: provincial-soap-lowercase
      stream_timeout: 110
"""


async def test_the_sandbox_configuration(
    tmp_path: Path, population: Population, mover: SyntheticPerson
) -> None:
    """Two provinces on ports of the sandbox's choosing, configured by the file the sandbox ships."""
    ports = closed_port(), closed_port()
    henan = ProvincialSimulator(population, region="41", passwords={"gateway": "s3cret"}, port=ports[0])
    guangdong = ProvincialSimulator(population, region="44", dialect=LOWERCASE_DIALECT, port=ports[1])
    (tmp_path / "sandbox.yaml").write_text(SANDBOX, encoding="utf-8")
    env = {
        "HENAN_SOAP_URL": f"http://127.0.0.1:{ports[0]}/provincial",
        "HENAN_SOAP_PASSWORD": "s3cret",
        "GUANGDONG_SOAP_URL": f"http://127.0.0.1:{ports[1]}/provincial",
    }
    async with henan, guangdong, Gateway(load_config(tmp_path / "sandbox.yaml", env=env)) as gw:
        assert (henan.endpoint, guangdong.endpoint) == (env["HENAN_SOAP_URL"], env["GUANGDONG_SOAP_URL"])
        history = (await gw.call("contributions.history", {"citizen_id": mover.citizen_id})).response
    assert isinstance(history, ContributionHistory) and history.complete
    assert history.regions == ["410000", "440000"]
