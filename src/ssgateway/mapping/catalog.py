"""Finding mappings and code lists by id: the shipped ones and those in configured directories.

A mapping root is a directory of mapping files (``**/*.yaml``) with code lists in ``codelists/``. Roots
given first win: a deployment overrides a shipped mapping or code list by giving one with the same id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import ValidationError

from ssgateway import yamlfile
from ssgateway.errors import MappingError, NotFound
from ssgateway.mapping.codelists import CodeList, load_codelist
from ssgateway.mapping.compiler import InboundMapping, located_failure
from ssgateway.mapping.render import OutboundMapping
from ssgateway.mapping.spec import MappingSpec
from ssgateway.mapping.targets import TARGETS
from ssgateway.resources import shipped_mappings_dir

__all__ = ["CompiledMapping", "MappingCatalog", "MappingFile", "compile_spec", "load_spec"]

CompiledMapping = InboundMapping | OutboundMapping


@dataclass(frozen=True)
class MappingFile:
    """A parsed mapping file."""

    path: Path
    spec: MappingSpec
    doc: yamlfile.Located


def load_spec(path: Path) -> MappingFile:
    """Parse and validate one mapping file; errors name the file, line and key."""
    doc = yamlfile.load(path, error=MappingError)
    try:
        spec = MappingSpec.model_validate(doc.data)
    except ValidationError as exc:
        errors = doc.validation_errors(exc, error=MappingError)
        if len(errors) > 1:
            more = "; ".join(f"line {e.line}: {e.key}: {e.reason}" for e in errors[1:])
            first = errors[0]
            raise MappingError(
                f"{first.reason} (also {more})", file=first.file, line=first.line, key=first.key
            ) from None
        raise errors[0] from None
    return MappingFile(path, spec, doc)


def compile_spec(mf: MappingFile, codelist: MappingCatalog | None = None) -> CompiledMapping:
    """Compile a parsed mapping; ``MappingError`` (file, line, key) for anything that cannot work."""
    catalog = codelist or MappingCatalog()
    fail = located_failure(mf.doc, str(mf.path))
    model = TARGETS.get(mf.spec.entity)
    if model is None:
        raise fail(("entity",), f"unknown entity {mf.spec.entity!r}; known: {', '.join(sorted(TARGETS))}")
    if mf.spec.direction == "inbound":
        return InboundMapping(mf.spec, model, catalog.codelist, fail)
    return OutboundMapping(mf.spec, model, catalog.codelist, fail)


class MappingCatalog:
    """Mappings and code lists by id, from the given roots and then the shipped mappings."""

    def __init__(self, roots: Sequence[str | Path] = (), *, include_shipped: bool = True) -> None:
        self.roots = [Path(r) for r in roots]
        if include_shipped:
            self.roots.append(shipped_mappings_dir())
        self._compiled: dict[str, CompiledMapping] = {}

    @cached_property
    def codelists(self) -> dict[str, tuple[CodeList, Path]]:
        """Every code list by id (first root wins)."""
        found: dict[str, tuple[CodeList, Path]] = {}
        for root in self.roots:
            for path in sorted((root / "codelists").glob("*.yaml")):
                codes = load_codelist(path)
                found.setdefault(codes.id, (codes, path))
        return found

    def codelist(self, list_id: str) -> CodeList:
        """The code list ``list_id``; ``LookupError`` naming the known ones otherwise."""
        try:
            return self.codelists[list_id][0]
        except KeyError:
            raise LookupError(
                f"unknown code list {list_id!r}; known: {', '.join(sorted(self.codelists))}"
            ) from None

    def mapping_paths(self) -> list[Path]:
        """Every mapping file under the roots (code lists excluded)."""
        return [
            path
            for root in self.roots
            for path in sorted(root.rglob("*.yaml"))
            if "codelists" not in path.relative_to(root).parts
        ]

    @cached_property
    def files(self) -> dict[str, MappingFile]:
        """Every mapping by ``id@version`` (first root wins)."""
        found: dict[str, MappingFile] = {}
        for path in self.mapping_paths():
            mf = load_spec(path)
            found.setdefault(mf.spec.ref, mf)
        return found

    def resolve(self, ref: str) -> MappingFile:
        """A mapping by ``id@version``, or by ``id`` (its highest version)."""
        if "@" in ref:
            found = self.files.get(ref)
        else:
            versions = [mf for mf in self.files.values() if mf.spec.id == ref]
            found = max(versions, key=lambda mf: mf.spec.version) if versions else None
        if found is None:
            known = ", ".join(sorted({mf.spec.id for mf in self.files.values()}))
            raise NotFound(f"no mapping {ref!r}; known mappings: {known}", code="mapping.unknown")
        return found

    def get(self, ref: str) -> CompiledMapping:
        """The compiled mapping ``ref`` (compiled once, then cached)."""
        mf = self.resolve(ref)
        if mf.spec.ref not in self._compiled:
            self._compiled[mf.spec.ref] = compile_spec(mf, self)
        return self._compiled[mf.spec.ref]

    def inbound(self, ref: str) -> InboundMapping:
        """The compiled inbound mapping ``ref``."""
        compiled = self.get(ref)
        if not isinstance(compiled, InboundMapping):
            raise MappingError(f"mapping {ref!r} is outbound; an inbound mapping is needed here")
        return compiled

    def outbound(self, ref: str) -> OutboundMapping:
        """The compiled outbound mapping ``ref``."""
        compiled = self.get(ref)
        if not isinstance(compiled, OutboundMapping):
            raise MappingError(f"mapping {ref!r} is inbound; an outbound mapping is needed here")
        return compiled
