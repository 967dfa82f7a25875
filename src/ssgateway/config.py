"""The gateway configuration: one YAML file, validated by the models below.

Secrets come from the environment through ``${NAME}`` / ``${NAME:-default}``. Every error names the file,
the line and the key. Each partner's ``config:`` block is validated against its adapter's own model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_validator

from ssgateway import yamlfile
from ssgateway.errors import ConfigError, SSGatewayError
from ssgateway.model import InsuranceType, Period
from ssgateway.operations import OPERATIONS

if TYPE_CHECKING:
    from ssgateway.registry import AdapterRegistry

__all__ = [
    "EVENT_OPERATIONS",
    "ApiKeyConfig",
    "BreakerConfig",
    "BrokerConfig",
    "ConfigErrors",
    "DefaultsConfig",
    "DropSourceConfig",
    "DropsConfig",
    "EventsConfig",
    "GatewayConfig",
    "LoggingConfig",
    "OutboxConfig",
    "PartnerConfig",
    "RateConfig",
    "RetryConfig",
    "ServerConfig",
    "StoreConfig",
    "load_config",
    "parse_config",
    "validate_adapter_configs",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _known_operations(names: Iterable[str]) -> None:
    for name in names:
        if name not in OPERATIONS:
            raise ValueError(f"unknown operation {name!r}; known: {', '.join(sorted(OPERATIONS))}")


_STORE_URL = re.compile(r"^(sqlite:///.+|sqlite:///:memory:|postgres(ql)?://.*|redis(s)?://.*)$")


class StoreConfig(_Section):
    """Where idempotency records, the outbox, checkpoints and the audit trail live."""

    url: str = "sqlite:///ssgateway.db"
    """`sqlite:///path` (embedded default), `postgresql://…` (many replicas) or `redis://…`
    (idempotency only). Relative SQLite paths resolve against the configuration file's directory."""
    namespace: str = Field(default="ssgateway", pattern=r"^[a-z_][a-z0-9_]{0,39}$")
    """Keeps this gateway's data apart in a shared database: the PostgreSQL schema, the SQLite table-name
    prefix, the Redis key prefix."""
    lease: float = Field(default=60.0, gt=0)
    """Seconds an in-progress idempotency claim is held; a holder that dies is taken over after it."""
    retention: float = Field(default=86400.0, gt=0)
    """Seconds idempotency records are kept, and repeats answered with the stored result."""
    pool_size: int = Field(default=10, ge=1, le=1000)
    """Most connections a PostgreSQL or Redis store opens per process."""
    timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for the store before failing closed (`store.unavailable`)."""

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not _STORE_URL.match(value):
            raise ValueError("a store URL starts with sqlite:///, postgresql:// or redis://")
        return value


class RetryConfig(_Section):
    """How a partner's transient failures are retried."""

    attempts: int = Field(default=4, ge=1, le=100)
    """Total attempts, the first included."""
    deadline: float = Field(default=30.0, gt=0)
    """Seconds after which no new attempt starts."""
    initial_backoff: float = Field(default=0.2, ge=0)
    """Upper bound of the first wait; waits are drawn uniformly below the bound (full jitter)."""
    max_backoff: float = Field(default=5.0, ge=0)
    """Cap of the bound."""
    multiplier: float = Field(default=2.0, ge=1)
    """Growth of the bound per attempt."""
    honour_retry_after: bool = True
    """Wait as long as a partner's ``Retry-After`` asks (within the deadline)."""


class BreakerConfig(_Section):
    """The per-partner circuit breaker."""

    failure_threshold: int = Field(default=5, ge=1)
    """Consecutive failures that open the breaker."""
    reset_timeout: float = Field(default=30.0, gt=0)
    """Seconds an open breaker waits before letting one probe call through."""


class PartnerConfig(_Section):
    """One configured partner: an adapter instance with its routes and policies."""

    adapter: str = Field(min_length=1)
    """The adapter kind, as listed by ``ssgateway adapters list``."""
    regions: tuple[str, ...] = ()
    """Region-code prefixes this partner serves (`"41"` Henan, `"4101"` Zhengzhou)."""
    operations: tuple[str, ...] | None = None
    """Operations routed to this partner; default: every operation its adapter serves."""
    required: bool = True
    """Readiness fails while this partner's breaker is open."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds per call."""
    retry: RetryConfig | None = None
    """Overrides `defaults.retry`."""
    breaker: BreakerConfig | None = None
    """Overrides `defaults.breaker`."""
    config: dict[str, Any] = Field(default_factory=dict)
    """The adapter's own settings, validated by its model."""

    @field_validator("regions")
    @classmethod
    def _prefixes(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for prefix in value:
            if not prefix.isdigit() or not 1 <= len(prefix) <= 6:
                raise ValueError(f"a region prefix is 1 to 6 digits, got {prefix!r}")
        return value

    @field_validator("operations")
    @classmethod
    def _known_operations(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        _known_operations(value or ())
        return value


class ApiKeyConfig(_Section):
    """A caller's API key, stored as a hash, and the operations it may call."""

    id: str = Field(min_length=1, max_length=64)
    """Names the caller in logs and audit."""
    hash: SecretStr
    """`sha256:<hex>` of the key."""
    operations: tuple[str, ...] = ("*",)
    """Operations allowed; `"*"` allows all."""

    @field_validator("operations")
    @classmethod
    def _known_operations(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        _known_operations(v for v in value if v != "*")
        return value

    @field_validator("hash")
    @classmethod
    def _hash_form(cls, value: SecretStr) -> SecretStr:
        if not re.fullmatch(r"sha256:[0-9a-f]{64}", value.get_secret_value()):
            raise ValueError("an API key hash is written sha256:<64 hex digits>")
        return value


class ServerConfig(_Section):
    """The HTTP sidecar."""

    host: str = "127.0.0.1"
    port: int = Field(default=8480, ge=0, le=65535)
    graceful_timeout: float = Field(default=10.0, ge=0)
    """Seconds to let in-flight requests finish on shutdown."""


class LoggingConfig(_Section):
    """Log output."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    format: Literal["json", "text"] = "json"


class OutboxConfig(_Section):
    """The outbox relays this process runs (deliveries are stored in the store either way)."""

    relays: int = Field(default=1, ge=0, le=64)
    """Relay tasks in this process; 0 leaves sending to other processes sharing the store."""
    concurrency: int = Field(default=16, ge=1, le=1024)
    """Deliveries each relay sends at once."""
    lease: float = Field(default=60.0, gt=0)
    """Seconds a relay holds a delivery; longer than the slowest send."""
    poll_interval: float = Field(default=0.5, gt=0)
    """Seconds between looks for due deliveries when there are none."""


EVENT_OPERATIONS = ("deaths.notify", "survival.report")
"""Operations the gateway records once and fans out to subscribers."""

_SUBJECT = r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$"


class BrokerConfig(_Section):
    """A NATS JetStream stream that receives every canonical event, for consumers that subscribe."""

    url: str = Field(pattern=r"^(nats|tls)://.+")
    """`nats://host:4222` (or `tls://…`); credentials in the URL come from the environment (`${NAME}`)."""
    stream: str = Field(default="SSGATEWAY_EVENTS", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """The JetStream stream events are published to."""
    subject_prefix: str = Field(default="ssgateway.events", pattern=_SUBJECT)
    """Events go to `<subject_prefix>.<operation>`, e.g. `ssgateway.events.deaths.notify`."""
    create_stream: bool = True
    """Create the stream (file storage, subjects `<subject_prefix>.>`) when it does not exist; false
    requires it to exist (created by whoever runs the broker)."""
    duplicate_window: float = Field(default=86400.0, gt=0)
    """Seconds JetStream remembers message ids (`Nats-Msg-Id`) of a stream it creates: a resend within it
    is stored once. Make it longer than a delivery can keep being retried."""
    name: str = Field(default="events-broker", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    """How the broker is named in the outbox (`ssgateway outbox list --partner …`), metrics and breakers;
    must not be a partner's name."""
    timeout: float = Field(default=5.0, gt=0)
    """Seconds to connect, and to wait for JetStream's acknowledgement of one message."""


class EventsConfig(_Section):
    """Who hears of deaths and survival certifications: each is recorded once, then delivered once to each."""

    subscribers: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    """Per event operation (`deaths.notify`, `survival.report`), the partners that receive it; each must
    serve that operation."""
    broker: BrokerConfig | None = None
    """Also publish every event to a NATS JetStream stream."""
    digest_key: SecretStr | None = None
    """Key of the digests that name events (`death:<digest>`) in receipts, the outbox, logs and the
    broker; set it from a secret, the same on every replica, and never change it (a changed key makes
    repeats look new). Unset: an unkeyed SHA-256 digest, the one partners derive themselves."""

    @field_validator("subscribers")
    @classmethod
    def _event_operations(cls, value: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        for name, partners in value.items():
            if name not in EVENT_OPERATIONS:
                raise ValueError(f"{name!r} is not an event; events are {', '.join(EVENT_OPERATIONS)}")
            if len(set(partners)) != len(partners):
                raise ValueError(f"{name}: a subscriber is listed twice")
        return value

    @property
    def configured(self) -> bool:
        """Whether any event has a subscriber or a broker is set."""
        return self.broker is not None or any(self.subscribers.values())


class DefaultsConfig(_Section):
    """Policies every partner gets unless it overrides them."""

    retry: RetryConfig = RetryConfig()
    breaker: BreakerConfig = BreakerConfig()


class RateConfig(_Section):
    """Contribution rates of one insurance in a region over a range of months: amounts must follow them."""

    region: str = Field(pattern=r"^\d{1,6}$")
    """Division-code prefix the rates apply to (`"41"` Henan, `"4101"` Zhengzhou); the longest matching
    prefix wins."""
    insurance_type: InsuranceType
    """The canonical insurance type (`enterprise_employee_pension`, …)."""
    employer: Decimal = Field(ge=0, le=1)
    """Employer rate: the employer amount is the base times this."""
    individual: Decimal = Field(ge=0, le=1)
    """Individual rate."""
    flexible: Decimal | None = Field(default=None, ge=0, le=1)
    """Rate a flexible worker (employer amount 0) pays alone; unset: such records are not checked."""
    from_period: Period | None = None
    """First month the rates apply to (`YYYY-MM` or `YYYYMM`); unset: since always."""
    to_period: Period | None = None
    """Last month (inclusive); unset: until further notice."""
    tolerance: Decimal = Field(default=Decimal("0.01"), ge=0)
    """Difference in yuan still accepted (rounding)."""


class DropSourceConfig(_Section):
    """One source of contribution drops (a province's system)."""

    mapping: str = "golden-insurance/contribution-drop"
    """Inbound CSV mapping the drops are read with."""
    encoding: Literal["gb18030", "gbk", "utf-8", "utf-8-sig", "auto"] | None = None
    """The drops' encoding (`auto`: strict UTF-8, else GB18030); unset: as each drop's manifest says. When
    set, a manifest declaring another encoding fails its drop."""
    max_field: int = Field(default=10_000, ge=1)
    """Longest field in characters; a record with a longer one is rejected."""
    rates: tuple[RateConfig, ...] = ()
    """Rates to check amounts against (none: amounts are not checked)."""


class DropsConfig(_Section):
    """Ingestion of contribution file drops (`ssgateway drops ingest`)."""

    checkpoint_every: int = Field(default=50_000, ge=1)
    """Records between two checkpoints of a drop's progress (a restart redoes at most this many)."""
    poll_interval: float = Field(default=30.0, gt=0)
    """Seconds between two looks at the folder under `--watch`."""
    lease: float = Field(default=300.0, gt=0)
    """Seconds without a checkpoint after which another host may take a drop over."""
    sources: dict[str, DropSourceConfig] = Field(default_factory=dict)
    """Sources by name (the manifest's `source`)."""


class GatewayConfig(_Section):
    """The whole configuration file."""

    version: Literal[1] = 1
    """Version of this file's format."""
    store: StoreConfig = StoreConfig()
    """The durable store."""
    server: ServerConfig = ServerConfig()
    """The HTTP sidecar's listener."""
    logging: LoggingConfig = LoggingConfig()
    """Log level and format."""
    defaults: DefaultsConfig = DefaultsConfig()
    """Retry and breaker policies for partners that do not set their own."""
    outbox: OutboxConfig = OutboxConfig()
    """Relays sending stored deliveries."""
    partners: dict[str, PartnerConfig] = Field(default_factory=dict)
    """Partners by name."""
    api_keys: tuple[ApiKeyConfig, ...] = ()
    """Callers allowed to use the sidecar."""
    mapping_paths: tuple[str, ...] = ()
    """Extra directories of mapping files, searched before the shipped ones."""
    drops: DropsConfig = DropsConfig()
    """Contribution file drops."""
    events: EventsConfig = EventsConfig()
    """Event subscribers (deaths, survival certifications) and the broker events are published to."""

    _source: yamlfile.Located | None = PrivateAttr(default=None)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @property
    def base_dir(self) -> Path:
        """The directory of the configuration file (relative paths resolve against it)."""
        return self._base_dir

    @property
    def source(self) -> yamlfile.Located | None:
        """The parsed file, for errors that point at a line."""
        return self._source

    def retry_for(self, partner: str) -> RetryConfig:
        """The retry policy of a partner (the defaults for a name that is not a partner: the broker)."""
        settings = self.partners.get(partner)
        return (settings.retry if settings else None) or self.defaults.retry

    def breaker_for(self, partner: str) -> BreakerConfig:
        """The breaker settings of a partner (the defaults for a name that is not a partner: the broker)."""
        settings = self.partners.get(partner)
        return (settings.breaker if settings else None) or self.defaults.breaker


class ConfigErrors(ConfigError):
    """Several configuration errors at once; ``errors`` holds each, the message lists them all."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        SSGatewayError.__init__(self, "\n".join(e.message for e in errors), code="config.invalid")
        first = errors[0]
        self.file, self.line, self.key, self.reason = first.file, first.line, first.key, first.reason


def _raise_all(errors: list[ConfigError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)


def parse_config(doc: yamlfile.Located, *, env: dict[str, str] | None = None) -> GatewayConfig:
    """Validate a loaded document as a :class:`GatewayConfig` (after ``${ENV}`` interpolation)."""
    yamlfile.interpolate_env(doc, env)
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise doc.error((), "the configuration must be a mapping of sections")
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        _raise_all(doc.validation_errors(exc))
        raise  # pragma: no cover - _raise_all always raises for a non-empty error list
    config._source = doc
    if doc.file and not doc.file.startswith("<"):
        config._base_dir = Path(doc.file).resolve().parent
    _raise_all(_event_errors(config, doc))
    return config


def _event_errors(config: GatewayConfig, doc: yamlfile.Located) -> list[ConfigError]:
    """Subscribers must be partners, the broker's name must not be one, events need an outbox."""
    events = config.events
    errors = [
        doc.error(("events", "subscribers", operation, i), f"{name!r} is not a configured partner")
        for operation, names in events.subscribers.items()
        for i, name in enumerate(names)
        if name not in config.partners
    ]
    if events.broker is not None and events.broker.name in config.partners:
        taken = f"{events.broker.name!r} is a partner's name: pick another"
        errors.append(doc.error(("events", "broker", "name"), taken))
    if events.configured and config.store.url.split(":", 1)[0].lower() in ("redis", "rediss"):
        errors.append(
            doc.error(
                ("store", "url"),
                "events are recorded and fanned out through the outbox: use a SQLite or PostgreSQL store",
            )
        )
    return errors


def load_config(path: str | Path, *, env: dict[str, str] | None = None) -> GatewayConfig:
    """Load, interpolate and validate a configuration file.

    Raises:
        ConfigError: with file, line and key; :class:`ConfigErrors` when there are several.
    """
    return parse_config(yamlfile.load(path), env=env)


def validate_adapter_configs(config: GatewayConfig, registry: AdapterRegistry) -> dict[str, BaseModel]:
    """Validate each partner's ``config:`` block against its adapter's model.

    Returns:
        The validated adapter configuration of each partner.

    Raises:
        ConfigError: unknown adapters, operations the adapter does not serve, invalid adapter settings.
    """
    doc = config.source or yamlfile.Located(data=None, file="<config>")
    errors: list[ConfigError] = []
    validated: dict[str, BaseModel] = {}
    served: dict[str, frozenset[str]] = {}
    for name, partner in config.partners.items():
        where = ("partners", name)
        try:
            adapter = registry.get(partner.adapter)
        except SSGatewayError as exc:
            errors.append(doc.error((*where, "adapter"), exc.message))
            continue
        served[name] = frozenset(partner.operations or adapter.operations)
        errors.extend(
            doc.error((*where, "operations"), f"adapter {partner.adapter!r} does not serve {op!r}")
            for op in partner.operations or ()
            if op not in adapter.operations
        )
        try:
            validated[name] = adapter.config_model.model_validate(partner.config)
        except ValidationError as exc:
            errors.extend(doc.validation_errors(exc, prefix=(*where, "config")))
    errors.extend(
        doc.error(
            ("events", "subscribers", operation, i),
            f"partner {name!r} ({config.partners[name].adapter}) does not serve {operation}",
        )
        for operation, names in config.events.subscribers.items()
        for i, name in enumerate(names)
        if name in served and operation not in served[name]  # unknown partners and adapters: reported before
    )
    errors.extend(_ambiguous_routes(config, served, doc))
    _raise_all(errors)
    return validated


def _ambiguous_routes(
    config: GatewayConfig, served: dict[str, frozenset[str]], doc: yamlfile.Located
) -> list[ConfigError]:
    """Two partners serving one operation for the same region prefix: the router could only guess."""
    owners: dict[tuple[str, str], str] = {}
    clashes: dict[tuple[str, str, str], list[str]] = {}
    for name, operations in served.items():
        for operation in sorted(operations - set(EVENT_OPERATIONS)):  # events fan out, never route
            for prefix in config.partners[name].regions or ("",):
                first = owners.setdefault((operation, prefix), name)
                if first != name:
                    clashes.setdefault((first, name, prefix), []).append(operation)
    return [
        doc.error(
            ("partners", name, "regions"),
            f"partners {first!r} and {name!r} both serve {', '.join(ops)} for "
            f"{('region ' + prefix) if prefix else 'every region'}: limit one with operations: or regions:",
        )
        for (first, name, prefix), ops in clashes.items()
    ]
