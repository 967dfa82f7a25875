"""The sandbox: simulated partners and a real gateway on 127.0.0.1, ready to try.

``ssgateway sandbox`` starts two simulated provinces whose SOAP services use different element names
(Henan on the reference contract, Guangdong on lower-case names), a paying bank (ISO 20022), the
medical-insurance platform and civil affairs (an inbox for its death-notice batches), a gateway configured
for them with an embedded SQLite store — deaths and survival certifications fanned out to the provinces,
the platform and the bank — and the sidecar; it prints the URL, an API key and ``curl`` examples that work
as printed. Everything is synthetic: the people come from a seeded population.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shlex
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ssgateway.config import EVENT_OPERATIONS, GatewayConfig, parse_config
from ssgateway.runtime import Gateway
from ssgateway.server import hash_key, listen_socket, new_key
from ssgateway.testing.bank import BankSimulator
from ssgateway.testing.civil import CivilAffairsSimulator
from ssgateway.testing.dialect import LOWERCASE_DIALECT
from ssgateway.testing.medical import DEATH_REPORT_INFNO, MedicalSimulator
from ssgateway.testing.population import Population
from ssgateway.testing.provincial import ProvincialSimulator, retired
from ssgateway.yamlfile import loads

__all__ = ["Sandbox", "SandboxPartner", "render_config"]

SANDBOX_PASSWORD_ENV = "HENAN_SOAP_PASSWORD"  # noqa: S105 - the name of a variable, not a password


@dataclass
class SandboxPartner:
    """A simulated partner the sandbox runs, and how the gateway is configured for it."""

    name: str
    simulator: Any
    """Has async ``start()``/``stop()``."""
    config: Callable[[], str]
    """The partner's YAML block under ``partners:`` (indented by four spaces), once started."""
    events: tuple[str, ...] = ()
    """The events it subscribes to (``deaths.notify``, ``survival.report``)."""
    where: str = ""
    """Where it is, for the banner (default: the simulator's endpoint or URL)."""


CONFIG_TEMPLATE = """\
# ssgateway configuration written by `ssgateway sandbox` (a starting point for a real deployment).
# Endpoints point at the sandbox's simulated provinces; replace them and the secrets for real partners.
version: 1
store:
  url: {store_url}
server:
  host: 127.0.0.1
  port: {port}
  graceful_timeout: 10
logging:
  level: INFO
  format: text
defaults:
  retry: {{attempts: 4, deadline: 30, initial_backoff: 0.2, max_backoff: 5}}
  breaker: {{failure_threshold: 5, reset_timeout: 30}}
outbox:
  poll_interval: 0.2
api_keys:
  - id: sandbox
    hash: {key_hash}
    operations: ["*"]
partners:
{partners}
events:                        # each death or certification is recorded once, then delivered once to each
  subscribers:
{subscribers}
"""


def render_config(*, store_url: str, port: int, key_hash: str, partners: list[SandboxPartner]) -> str:
    """The gateway configuration for the sandbox's partners, as YAML text."""
    blocks = "".join(p.config() for p in partners)
    subscribers = "".join(
        f"    {event}: [{', '.join(p.name for p in partners if event in p.events)}]\n"
        for event in EVENT_OPERATIONS
    )
    return CONFIG_TEMPLATE.format(
        store_url=store_url,
        port=port,
        key_hash=key_hash,
        partners=blocks.rstrip("\n"),
        subscribers=subscribers.rstrip("\n"),
    )


def _provinces(population: Population, password: str) -> list[SandboxPartner]:
    henan = ProvincialSimulator(population, region="41", passwords={"gateway": password})
    guangdong = ProvincialSimulator(population, region="44", dialect=LOWERCASE_DIALECT)
    both = ("deaths.notify", "survival.report")
    return [
        SandboxPartner(
            "henan",
            henan,
            lambda: (
                f"""\
  henan:                       # reference Golden-Insurance element names, WS-Security UsernameToken
    adapter: provincial-soap
    regions: ["41"]
    timeout: 120
    config:
      endpoint: {henan.endpoint}
      wsse: {{username: gateway, password: "${{{SANDBOX_PASSWORD_ENV}:-{password}}}"}}
      stream_timeout: 110
"""
            ),
            both,
        ),
        SandboxPartner(
            "guangdong",
            guangdong,
            lambda: (
                f"""\
  guangdong:                   # another WSDL with lower-case element names: only a contract and mappings
    adapter: provincial-soap
    regions: ["44"]
    timeout: 120
    config:
      endpoint: {guangdong.endpoint}
      wsdl: sandbox/lowercase/v1/provincial.wsdl
      mappings: provincial-soap-lowercase
      stream_timeout: 110
"""
            ),
            both,
        ),
    ]


def _cross_sectoral(population: Population, seed: int, inbox: Path) -> list[SandboxPartner]:
    bank = BankSimulator(population, seed=seed)
    medical = MedicalSimulator(population, seed=seed)
    civil = CivilAffairsSimulator(population, seed=seed)
    return [
        SandboxPartner(
            "bank",
            bank,
            lambda: (
                f"""\
  bank:                        # the paying bank: pension batches as ISO 20022 pain.001, a stop list
    adapter: bank-iso20022
    regions: ["102"]           # batches whose debtor_bank_code starts with 102
    timeout: 60
    config:
      endpoint: {bank.url}
"""
            ),
            ("deaths.notify", "survival.report"),
        ),
        SandboxPartner(
            "medical",
            medical,
            lambda: (
                f"""\
  medical:                     # the medical-insurance platform (JSON envelope); deaths are reported to it
    adapter: medical-insurance
    config:
      endpoint: {medical.endpoint}
      institution_code: H11010500001
      institution_name: 沙箱示例医院
      treatment_division: "110105"
      operator: "0001"
      operator_name: 沙箱操作员
      death_report: {{infno: {DEATH_REPORT_INFNO}}}   # unverified: the number agreed with the platform
"""
            ),
            ("deaths.notify",),
        ),
        SandboxPartner(
            "civil-affairs",
            civil,
            lambda: (
                f"""\
  civil-affairs:               # civil affairs' daily CSV batches of deaths, fanned out like pushed notices
    adapter: civil-affairs
    config:
      inbox: {inbox}
      poll_interval: 2
"""
            ),
            where=f"batches into {inbox}",
        ),
    ]


@dataclass
class Sandbox:
    """Simulated partners, a gateway for them and the sidecar serving it.

    Args:
        port: the sidecar's port (0: a free one).
        api_key: the key callers use (default: a new random one).
        seed: seeds the synthetic population and the simulators.
        workdir: where the SQLite store and the generated configuration go (default: a temporary dir).
    """

    port: int = 8480
    api_key: str = field(default_factory=new_key)
    seed: int = 7
    workdir: Path | None = None
    population_size: int = 120
    partners: list[SandboxPartner] = field(default_factory=list)
    config_text: str = ""
    gateway: Gateway | None = None
    url: str = ""
    person: str = ""
    certificate: str = ""
    pensioner: str = ""
    """A retiree of Henan: paid, then reported dead, then not paid (the printed examples)."""
    extensions: list[Callable[[Sandbox], list[SandboxPartner]]] = field(default_factory=list)
    """Add more simulated partners (each function gets the sandbox and returns its partners)."""
    examples_extra: list[Callable[[Sandbox], list[tuple[str, str]]]] = field(default_factory=list)
    """Add more examples: (title, curl command) pairs, once the sandbox runs."""

    def __post_init__(self) -> None:
        self.population = Population.generate(
            seed=self.seed, size=self.population_size, provinces=("41", "44")
        )
        self._password = secrets.token_urlsafe(12)
        self._serving: asyncio.Future[None] = asyncio.Future()

    def _pick_person(self) -> str:
        henan = {p.citizen_id for p in self.population.people_in("41")}
        both = [p.citizen_id for p in self.population.people_in("44") if p.citizen_id in henan]
        if not both:
            raise RuntimeError("the synthetic population has nobody who worked in both provinces")
        return both[0]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Sandbox]:
        """Start everything; stop it all when the block ends."""
        import uvicorn

        from ssgateway.server import create_app

        temporary = self.workdir is None
        workdir = self.workdir or Path(tempfile.mkdtemp(prefix="ssgateway-sandbox-"))
        workdir.mkdir(parents=True, exist_ok=True)
        self.partners = _provinces(self.population, self._password)
        self.partners += _cross_sectoral(self.population, self.seed, workdir / "civil-affairs" / "inbox")
        for extend in self.extensions:
            self.partners.extend(extend(self))
        started: list[SandboxPartner] = []
        server: uvicorn.Server | None = None
        serving: asyncio.Task[None] | None = None
        try:
            for partner in self.partners:
                await partner.simulator.start()
                started.append(partner)
            config = self._config(workdir)
            self.gateway = Gateway(config)
            server = uvicorn.Server(
                uvicorn.Config(
                    create_app(self.gateway), host="127.0.0.1", port=self.port, log_config=None,
                    access_log=False, lifespan="on", timeout_graceful_shutdown=5, server_header=False,
                )
            )  # fmt: skip
            serving = asyncio.create_task(server.serve(sockets=[listen_socket("127.0.0.1", self.port)]))
            self._serving = serving
            while not server.started:
                if serving.done():
                    serving.result()  # the server failed to start: raise why
                    raise RuntimeError("the sidecar stopped before it started")
                await asyncio.sleep(0.05)
            port = server.servers[0].sockets[0].getsockname()[1]
            self.url = f"http://127.0.0.1:{port}"
            await self._prepare_examples()
            yield self
        finally:
            try:
                if server is not None and serving is not None:
                    server.should_exit = True
                    with contextlib.suppress(Exception):
                        await serving
                for partner in reversed(started):
                    await partner.simulator.stop()
            finally:  # also when the stop above is cut short (Ctrl-C cancels it)
                if temporary:  # the synthetic people's store and the generated files go with the sandbox
                    shutil.rmtree(workdir, ignore_errors=True)

    async def wait_closed(self) -> None:
        """Wait until the sidecar stops (on SIGINT or SIGTERM it finishes in-flight requests first)."""
        await self._serving

    def _config(self, workdir: Path) -> GatewayConfig:
        self.config_text = render_config(
            store_url=f"sqlite:///{workdir / 'sandbox.db'}",
            port=self.port,
            key_hash=hash_key(self.api_key),
            partners=self.partners,
        )
        path = workdir / "sandbox.yaml"
        path.write_text(self.config_text, encoding="utf-8")
        # The sandbox is self-contained: its own defaults, never variables of the calling environment.
        return parse_config(loads(self.config_text, str(path)), env={})

    async def _prepare_examples(self) -> None:
        assert self.gateway is not None  # noqa: S101 - set by running() before this is called
        self.person = self._pick_person()
        as_of = self.population.as_of
        self.pensioner = next(p.citizen_id for p in self.population.people_in("41") if retired(p, as_of))
        request = {"citizen_id": self.person, "from_region": "410000", "to_region": "440000"}
        certificate = await self.gateway.call("transfer.certificate", request)
        self.certificate = str(getattr(certificate.response, "certificate_number", ""))

    def curl(self, operation: str, body: dict[str, Any], *, idempotency_key: str | None = None) -> str:
        """A ``curl`` command calling ``operation`` on the sidecar, ready to paste into a shell."""
        import json

        headers = ["-H", f"Authorization: Bearer {self.api_key}", "-H", "Content-Type: application/json"]
        if idempotency_key:
            headers += ["-H", f"Idempotency-Key: {idempotency_key}"]
        args = [
            "curl",
            "-sS",
            "-i" if idempotency_key else "",
            *headers,
            "-d",
            json.dumps(body, ensure_ascii=False),
        ]
        return shlex.join([a for a in args if a] + [f"{self.url}/v1/ops/{operation}"])

    def examples(self) -> list[tuple[str, str]]:
        """(title, command) pairs for the banner; they work as printed while the sandbox runs."""
        submission = {
            "certificate_number": self.certificate,
            "citizen_id": self.person,
            "from_region": "410000",
            "to_region": "440000",
            "receiving_account": "44-POOL-0001",
        }
        found = [
            (
                "A person's nationwide contribution history, merged across Henan and Guangdong"
                " (gaps and overlaps reported):",
                self.curl("contributions.history", {"citizen_id": self.person}),
            ),
            (
                "Accept a transfer with an idempotency key (run it twice: the second answer is replayed,"
                " the province accepts once):",
                self.curl("transfer.submit", submission, idempotency_key=f"transfer-{self.certificate}"),
            ),
            ("Scrape the metrics:", f"curl -sS {self.url}/metrics | grep '^ssgateway_'"),
            *self._death_story(),
        ]
        for extra in self.examples_extra:
            found.extend(extra(self))
        return found

    def _bank(self) -> BankSimulator | None:
        return next((p.simulator for p in self.partners if isinstance(p.simulator, BankSimulator)), None)

    def payroll(self, month: str) -> dict[str, Any]:
        """A pension payment batch for ``month`` (``YYYY-MM``) paying the pensioner and two others."""
        bank = self._bank()
        if bank is None:
            return {}
        people = [self.population.person(self.pensioner), *self.population.people[:2]]
        tag = month.replace("-", "")
        return {
            "batch_id": f"HN{tag}-001",
            "debtor_name": "河南省社会保险基金",
            "debtor_account": "410100000123456789",
            "debtor_bank_code": "102491000010",
            "requested_execution_date": f"{month}-25",
            "instructions": [
                {
                    "end_to_end_id": f"HN{tag}-{n:06d}",
                    "citizen_id": p.citizen_id,
                    "name": p.name,
                    "account": bank.account_of(p.citizen_id),
                    "bank_code": "102100099996",
                    "amount": "3125.40",
                    "payout_period": month,
                }
                for n, p in enumerate(people, start=1)
                if p is not None
            ],
        }

    def _death_story(self) -> list[tuple[str, str]]:
        civil = next(
            (p.simulator for p in self.partners if isinstance(p.simulator, CivilAffairsSimulator)), None
        )
        if self._bank() is None or civil is None or not self.pensioner:
            return []
        death = civil.death_of(self.pensioner).model_dump(mode="json", exclude_none=True)
        return [
            (
                "Pay June's pensions through the bank (ISO 20022 pain.001; the first is a Henan retiree's):",
                self.curl("payments.submit", self.payroll("2024-06"), idempotency_key="HN202406-001"),
            ),
            (
                "Civil affairs reports that retiree's death: recorded once, then the provinces stop the"
                " pension (AAE160 451) and the platform and the bank are told (with another Idempotency-Key"
                " it answers duplicate: nothing is sent twice):",
                self.curl("deaths.notify", death, idempotency_key=f"civil-{death['notice_id']}"),
            ),
            (
                "A moment later (the outbox delivers the stop within a second), pay July's pensions: the"
                " bank rejects the payment to that person (MD07, end customer deceased):",
                self.curl("payments.submit", self.payroll("2024-07"), idempotency_key="HN202407-001"),
            ),
        ]

    def banner(self) -> str:
        """What ``ssgateway sandbox`` prints once everything runs."""
        lines = [
            f"ssgateway sandbox is running at {self.url}",
            f"API key: {self.api_key}",
            "Simulated partners: "
            + ", ".join(f"{p.name} ({p.where or _where(p.simulator)})" for p in self.partners),
            "Event subscribers: "
            + "; ".join(
                f"{event} → {', '.join(p.name for p in self.partners if event in p.events)}"
                for event in EVENT_OPERATIONS
            ),
            "The people are synthetic (seeded); the store is SQLite in a temporary directory.",
            "",
        ]
        for title, command in self.examples():
            lines += [title, f"  {command}", ""]
        lines.append("Press Ctrl-C to stop.")
        return "\n".join(lines)


def _where(simulator: Any) -> str:
    return str(getattr(simulator, "endpoint", None) or getattr(simulator, "url", ""))
