from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest

from ssgateway.adapter import AdapterContext, BaseAdapter, handles
from ssgateway.errors import NotFound
from ssgateway.model import PersonQuery, PersonRecord
from ssgateway.registry import AdapterLoadWarning, AdapterRegistry, default_registry


class Good(BaseAdapter):
    name = "good"
    version = "2.1"

    @handles("person.lookup")
    async def lookup(self, request: PersonQuery) -> PersonRecord:
        raise AssertionError


class NotAnAdapter:
    pass


def fake_entry_points(monkeypatch: pytest.MonkeyPatch, eps: list[EntryPoint]) -> None:
    def select(*, group: str) -> list[EntryPoint]:
        return [ep for ep in eps if ep.group == group]

    monkeypatch.setattr("ssgateway.registry.entry_points", select)


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group="ssgateway.adapters")


def test_first_party_adapter_is_installed() -> None:
    assert "records-file" in default_registry().names()


def test_broken_plugins_warn_and_do_not_break_others(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(
        monkeypatch,
        [
            ep("good", f"{__name__}:Good"),
            ep("missing", "no_such_module_xyz:Adapter"),
            ep("odd", f"{__name__}:NotAnAdapter"),
        ],
    )
    registry = AdapterRegistry()
    with pytest.warns(AdapterLoadWarning) as warned:
        names = registry.names()
    assert names == ["good"]
    assert len(warned) == 2
    infos = {i.name: i for i in registry.infos()}
    assert infos["good"].ok and infos["good"].operations == ("person.lookup",)
    assert "ModuleNotFoundError" in (infos["missing"].error or "")
    assert "lacks" in (infos["odd"].error or "")
    with pytest.raises(NotFound, match="installed but broken"):
        registry.get("missing")


def test_unknown_adapter_lookup_names_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_entry_points(monkeypatch, [ep("good", f"{__name__}:Good")])
    with pytest.raises(NotFound, match=r"no adapter named 'nope'; installed adapters: good") as info:
        AdapterRegistry().get("nope")
    assert info.value.code == "adapter.unknown"


def test_register_in_code_checks_the_class() -> None:
    registry = AdapterRegistry(load_entry_points=False)
    registry.register(Good)
    assert registry.get("good") is Good
    with pytest.raises(TypeError):
        registry.register(NotAnAdapter)  # type: ignore[arg-type]


def test_adapter_serving_unknown_operation_is_refused() -> None:
    class Weird(BaseAdapter):
        name = "weird"
        operations = frozenset({"teleport"})

    with pytest.raises(TypeError, match="unknown operations: teleport"):
        AdapterRegistry(load_entry_points=False).register(Weird)


async def test_base_adapter_dispatch_and_unserved_operation() -> None:
    class Answering(BaseAdapter):
        name = "answering"

        @handles("person.lookup")
        async def lookup(self, request: PersonQuery) -> Any:
            return request

    adapter = Answering(None, AdapterContext(partner="p1"))
    query = PersonQuery(citizen_id="11010519491231002X", region="110105")  # type: ignore[arg-type]
    assert await adapter.call("person.lookup", query) is query
    with pytest.raises(NotFound, match=r"does not serve 'payments\.submit'; it serves: person\.lookup"):
        await adapter.call("payments.submit", query)
