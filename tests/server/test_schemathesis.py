"""Property-based tests of the sidecar from its own OpenAPI document: no 5xx, responses match the schema."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import schemathesis
import uvicorn
import yaml
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from tests.runtime.conftest import test_adapters, write_records
from tests.runtime.test_gateway import two_provinces

from ssgateway.config import parse_config
from ssgateway.operations import OPERATIONS
from ssgateway.runtime import Gateway
from ssgateway.server import create_app, hash_key, openapi_document
from ssgateway.testing import PartnerSimulator
from ssgateway.yamlfile import Located

KEY = "ssg_schemathesis"
schema = schemathesis.openapi.from_dict(openapi_document(list(OPERATIONS.values())))


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sidecar")
    with PartnerSimulator().in_thread() as partner:
        partners = two_provinces(tmp)
        write_records(tmp / "henan.jsonl", ["202301", "202302", "202303"], "410105")
        partners["henan-ledger"] = {
            "adapter": "test-ledger",
            "regions": ["41"],
            "config": {"url": partner.url},
        }
        data = {"store": {"url": f"sqlite:///{tmp / 'gw.db'}"}, "partners": partners,
                "api_keys": [{"id": "fuzz", "hash": hash_key(KEY)}]}  # fmt: skip
        config = parse_config(
            Located(data=yaml.safe_load(yaml.safe_dump(data)), file=str(tmp / "gateway.yaml"))
        )
        gateway = Gateway(config, registry=test_adapters())
        server = uvicorn.Server(
            uvicorn.Config(create_app(gateway), host="127.0.0.1", port=0, log_config=None, lifespan="on")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        port = server.servers[0].sockets[0].getsockname()[1]
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=10)


@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_conforming_responses(case: schemathesis.Case, sidecar: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    if case.operation.method.upper() == "POST" and "Idempotency-Key" not in (case.headers or {}):
        headers["Idempotency-Key"] = "fuzz-key"
    # Identifiers carry check digits and division codes a JSON Schema cannot express, so schema-valid
    # requests may rightly be refused (422): every other check runs.
    case.call_and_validate(base_url=sidecar, headers=headers, excluded_checks=[positive_data_acceptance])
