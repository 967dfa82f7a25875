"""The exported surface stays deliberate: sorted, complete ``__all__``; adapters use only the public SDK."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _public_modules() -> list[str]:
    """Every module of the package whose dotted name has no part starting with an underscore."""
    import ssgateway

    found = [
        info.name
        for info in pkgutil.walk_packages(ssgateway.__path__, "ssgateway.")
        if not any(part.startswith("_") for part in info.name.split(".")) and info.name not in NOT_API
    ]
    return sorted(["ssgateway", *found])


# Modules that are entry points rather than APIs.
NOT_API = {"ssgateway.testing.plugin", "ssgateway.docgen"}
PUBLIC_MODULES = _public_modules()
# What first-party adapters may import: the SDK and the modules it documents as public.
ADAPTER_ALLOWED = {
    "ssgateway.sdk",
    "ssgateway.model",
    "ssgateway.errors",
    "ssgateway.masking",
    "ssgateway.xmlsafe",
    "ssgateway.partnerhttp",
    "ssgateway.soap",
    "ssgateway.testing",
}


def _isort_key(name: str) -> tuple[int, str]:
    # constants, then classes, then everything else (the order ruff's RUF022 keeps)
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    for item in exported:
        assert hasattr(module, item), f"{name}.{item} in __all__ but missing"


@pytest.mark.parametrize("name", [m for m in PUBLIC_MODULES if m != "ssgateway"])
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    defined = {
        attr
        for attr, obj in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == name
    }
    missing = defined - set(module.__all__)
    assert not missing, f"{name} defines public names missing from __all__: {sorted(missing)}"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_adapters_use_only_the_public_sdk() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {module}"
        for path in (ROOT / "adapters").rglob("*.py")
        for module in _imports(path)
        if module.split(".")[0] == "ssgateway" and module not in ADAPTER_ALLOWED
    ]
    assert not offenders, "adapters must import only the public SDK:\n" + "\n".join(offenders)


def test_model_depends_on_nothing_above_it() -> None:
    allowed = ("ssgateway.model", "ssgateway.masking")
    offenders = [
        f"{path.name} imports {module}"
        for path in (ROOT / "src" / "ssgateway" / "model").rglob("*.py")
        for module in _imports(path)
        if module.startswith("ssgateway.") and not module.startswith(allowed)
    ]
    assert not offenders, offenders
