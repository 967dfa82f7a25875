"""The canonical models a mapping may produce or read, and what their fields are."""

from __future__ import annotations

import types
import typing
from typing import Any

from pydantic import BaseModel

from ssgateway import model as m
from ssgateway.masking import PersonalKind
from ssgateway.model._strtypes import PersonalStr
from ssgateway.model.values import Coded

__all__ = ["TARGETS", "FieldInfo", "field_info"]

TARGETS: dict[str, type[BaseModel]] = {
    **m.ENTITIES,
    **{
        cls.__name__: cls
        for cls in (
            m.PersonRecord,
            m.PersonQuery,
            m.HistoryQuery,
            m.TransferCertificateRequest,
            m.TransferSubmission,
            m.TransferAcceptance,
            m.MedicalStatusQuery,
            m.PaymentStatusQuery,
            m.PaymentStatusReport,
            m.PaymentSubmission,
            m.NoticeReceipt,
        )
    },
}
"""Models a mapping may name as its ``entity``: every canonical entity and the operation messages."""


class FieldInfo(typing.NamedTuple):
    """What a mapping needs to know of a target field."""

    annotation: Any
    """The field's type with ``None`` removed."""
    model: type[BaseModel] | None
    """The nested model, for a field holding a model or a sequence of models."""
    repeated: bool
    """Whether the field holds a sequence."""
    coded: type[BaseModel] | None
    """The ``Coded[...]`` class, when the field is a coded value."""
    personal: PersonalKind | None
    """How to mask the field's raw values, when they are personal data."""


def _strip_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def field_info(owner: type[BaseModel], name: str) -> FieldInfo:
    """Describe field ``name`` of ``owner``; ``KeyError`` when it does not exist."""
    annotation = _strip_optional(owner.model_fields[name].annotation)
    repeated = False
    if typing.get_origin(annotation) in (tuple, list):
        args = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        annotation, repeated = (args[0] if args else Any), True
    coded = annotation if _is_model(annotation) and issubclass(annotation, Coded) else None
    model = annotation if _is_model(annotation) and coded is None else None
    personal = (
        annotation.kind if isinstance(annotation, type) and issubclass(annotation, PersonalStr) else None
    )
    return FieldInfo(annotation, model, repeated, coded, personal)
