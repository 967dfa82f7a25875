"""No log line or error message may carry an unmasked citizen id, name, card or phone."""

from __future__ import annotations

import io
import json
import logging
import random
import re

import pytest
from pydantic import ValidationError
from tests.vectors import BAD_CHECK_ID, make_citizen_id

from ssgateway.errors import NotFound, RecordRejected, TransientError
from ssgateway.log import configure_logging, request_scope
from ssgateway.model import CitizenId, Person

ID_SHAPED = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")


def scan(text: str, secrets: list[str]) -> None:
    assert not ID_SHAPED.search(text), text
    for secret in secrets:
        assert secret not in text, (secret, text)


@pytest.fixture
def log_stream() -> io.StringIO:
    stream = io.StringIO()
    handler = configure_logging("DEBUG", "json", stream)
    yield stream
    logging.getLogger("ssgateway").removeHandler(handler)


def test_logs_and_errors_never_carry_unmasked_personal_data(log_stream: io.StringIO) -> None:
    rng = random.Random(7)
    ids = [make_citizen_id(rng) for _ in range(20)]
    names = ["张伟", "王秀英", "欧阳娜娜"]
    secrets = [*ids, *names, "6222021234567890123", "13812345678", BAD_CHECK_ID]
    log = logging.getLogger("ssgateway.test")
    messages: list[str] = []

    with request_scope("req-1"):
        for cid, name in zip(ids, names * 7, strict=False):
            person = Person(citizen_id=cid, name=name, phone="13812345678")  # type: ignore[arg-type]
            log.info("looked up %s", person)
            log.info(
                "raw id %s and card 6222021234567890123",
                cid,
                extra={"citizen_id": cid, "payload": {"id": cid}},
            )
            log.info("typed id %s", CitizenId.parse(cid))
            err = NotFound(f"no person {CitizenId.parse(cid)}")
            messages.append(str(err))
            try:
                raise TransientError(f"partner said: person {cid} busy")
            except TransientError:
                log.exception("call failed")
        for bad in (BAD_CHECK_ID, ids[0][:17] + "Q"):
            try:
                Person.model_validate({"citizen_id": bad, "name": "张伟"})
            except ValidationError as exc:
                messages.append(str(exc))
                log.warning("invalid: %s", exc)
        messages.append(
            str(RecordRejected("check digit", field="citizen_id", raw="360426********009X", position=3))
        )

    output = log_stream.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert lines and all(line["request_id"] == "req-1" for line in lines)
    scan(output, secrets)
    for message in messages:
        scan(message, secrets)


def test_text_format_is_masked_too() -> None:
    stream = io.StringIO()
    handler = configure_logging("INFO", "text", stream)
    try:
        logging.getLogger("ssgateway.x").info("id 11010519491231002X")
    finally:
        logging.getLogger("ssgateway").removeHandler(handler)
    assert "110105********002X" in stream.getvalue()
