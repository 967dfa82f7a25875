"""The service's elements as the adapter writes and reads them.

A request element rendered by an outbound mapping becomes zeep parameters (child local name → text,
nested elements → dicts, repeated ones → lists), so the contract still decides element order and
namespaces and refuses names it does not declare. An answer's payload is searched for the inbound
mapping's record element.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

__all__ = ["find_record", "local_name", "namespace_of", "request_params"]


def local_name(tag: str) -> str:
    """``{urn:x}AAC002`` → ``AAC002``."""
    return tag.rpartition("}")[2]


def namespace_of(tag: str) -> str | None:
    """``{urn:x}AAC002`` → ``urn:x``; ``None`` for an unqualified name."""
    return tag[1:].partition("}")[0] if tag.startswith("{") else None


def request_params(element: etree._Element) -> dict[str, Any]:
    """The children of a rendered request element as zeep parameters."""
    params: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue
        name = local_name(child.tag)
        value: Any = request_params(child) if len(child) else (child.text or "")
        if name not in params:
            params[name] = value
        elif isinstance(params[name], list):
            params[name].append(value)
        else:
            params[name] = [params[name], value]
    return params


def find_record(payload: etree._Element, tag: str) -> etree._Element | None:
    """The record element of an answer: the payload itself, or its first descendant with ``tag``."""
    if payload.tag == tag:
        return payload
    return next(payload.iter(tag), None)
