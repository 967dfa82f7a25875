from __future__ import annotations

from pathlib import Path

import pytest
from tests.model.test_entities import CID, record

from ssgateway.errors import NotFound
from ssgateway.model import ContributionRecord, HistoryQuery, Period, Person, PersonQuery
from ssgateway.registry import default_registry
from ssgateway.sdk import AdapterContext


async def test_records_file_serves_history_and_person(tmp_path: Path) -> None:
    rows = [record("202301"), record("202302"), record("202303", region="440113")]
    (tmp_path / "c.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in rows), encoding="utf-8")
    person = Person(citizen_id=CID, name="李四")  # type: ignore[arg-type]
    (tmp_path / "p.jsonl").write_text(person.model_dump_json() + "\n", encoding="utf-8")

    cls = default_registry().get("records-file")
    config = cls.config_model.model_validate({"contributions": ["c.jsonl"], "persons": ["p.jsonl"]})
    adapter = cls(config, AdapterContext(partner="files", base_dir=tmp_path))
    await adapter.start()
    assert (await adapter.check()).ok

    history = await adapter.call(
        "contributions.history", HistoryQuery(citizen_id=CID, from_period=Period(2023, 2))
    )  # type: ignore[arg-type]
    assert [str(r.period) for r in history.records] == ["2023-02", "2023-03"]  # type: ignore[attr-defined]
    assert all(isinstance(r, ContributionRecord) for r in history.records)  # type: ignore[attr-defined]

    found = await adapter.call("person.lookup", PersonQuery(citizen_id=CID, region="410105"))  # type: ignore[arg-type]
    assert found.person == person  # type: ignore[attr-defined]
    with pytest.raises(NotFound) as info:
        await adapter.call("person.lookup", PersonQuery(citizen_id="11010519491231002X", region="110105"))  # type: ignore[arg-type]
    assert "11010519491231002X" not in str(info.value)
