"""The declarative mapping engine: YAML mappings compiled once into plain functions.

Typical use::

    from ssgateway.mapping import MappingCatalog, read_csv

    catalog = MappingCatalog()
    mapping = catalog.inbound("golden-insurance/contribution-drop")
    with open("drop.csv", encoding="gb18030", newline="") as fh:
        rows = read_csv(fh, source="drop.csv", required=mapping.columns)
        for outcome in mapping.map_records(rows, source_name="drop.csv"):
            ...  # Accepted(position, entity) or Rejection(position, reason, field, source, raw)
"""

from ssgateway.mapping.catalog import CompiledMapping, MappingCatalog, MappingFile, compile_spec, load_spec
from ssgateway.mapping.codelists import CodeEntry, CodeList, load_codelist
from ssgateway.mapping.compiler import InboundMapping
from ssgateway.mapping.examples import ExampleResult, run_examples
from ssgateway.mapping.outcomes import Accepted, Outcome, Rejection
from ssgateway.mapping.render import OutboundMapping
from ssgateway.mapping.sources import read_csv, read_json, read_xml
from ssgateway.mapping.spec import MappingSpec
from ssgateway.mapping.targets import TARGETS
from ssgateway.mapping.transforms import custom_transform

__all__ = [
    "TARGETS",
    "Accepted",
    "CodeEntry",
    "CodeList",
    "CompiledMapping",
    "ExampleResult",
    "InboundMapping",
    "MappingCatalog",
    "MappingFile",
    "MappingSpec",
    "OutboundMapping",
    "Outcome",
    "Rejection",
    "compile_spec",
    "custom_transform",
    "load_codelist",
    "load_spec",
    "read_csv",
    "read_json",
    "read_xml",
    "run_examples",
]
