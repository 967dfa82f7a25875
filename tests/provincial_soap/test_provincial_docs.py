"""The provincial SOAP page names the simulator's fault kinds from the enum the simulator uses."""

from __future__ import annotations

import re
from pathlib import Path

from ssgateway.testing import faultplan

PAGE = Path(__file__).resolve().parents[2] / "docs" / "adapters" / "provincial-soap.md"


def test_the_fault_examples_use_the_simulators_fault_kinds() -> None:
    text = PAGE.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    using = [block for block in blocks if "FaultKind." in block]
    assert using
    for block in using:
        # ssgateway.testing.FaultKind is the partner simulator's enum: RESET only works by its value
        assert "from ssgateway.testing.faultplan import FaultKind" in block
        assert "from ssgateway.testing import FaultKind" not in block
    named = set(re.findall(r"FaultKind\.([A-Z_]+)", text))
    table = set(re.findall(r"^\| `([A-Z_]+)` \|", text, re.MULTILINE))
    assert named | table <= set(faultplan.FaultKind.__members__)
    assert table == set(faultplan.FaultKind.__members__)  # the table lists every kind
