"""Machinery shared by the string value types: validation hooks for pydantic and masked ``repr``/``str``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic_core import core_schema

from ssgateway.masking import PersonalKind, mask

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

_FULLWIDTH = str.maketrans(
    "０１２３４５６７８９ＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹｘ", "0123456789ABCDEFGHJKLMNPQRTUWXYx"
)


def normalise(value: str) -> str:
    """Trim and turn full-width digits and capitals into ASCII, as legacy systems mix both."""
    return value.strip() if value.isascii() else value.strip().translate(_FULLWIDTH)


class ValueStr(str):
    """A validated string. Subclasses implement :meth:`_check`, returning the normalised text.

    Instances are plain strings to every library that reads their characters (JSON encoders, database
    drivers, lxml), so they need no conversion on the way out.
    """

    __slots__ = ()
    json_schema: ClassVar[dict[str, Any]] = {"type": "string"}

    @classmethod
    def _check(cls, value: str, context: Any) -> str:
        """Return the normalised text or raise ``ValueError``; subclasses narrow what they accept."""
        return value

    @classmethod
    def parse(cls, value: str, context: Any = None) -> Self:
        """Validate ``value`` and return an instance; raise ``ValueError`` with a masked reason."""
        if type(value) is cls:
            return value
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {type(value).__name__}")
        return cls(cls._check(value, context))

    @classmethod
    def _validate(cls, value: Any, info: core_schema.ValidationInfo) -> Self:
        if type(value) is cls:  # already validated (a mapping's transform made it)
            return value
        return cls.parse(value, info.context)

    def reveal(self) -> str:
        """The plain text of the value (unmasked for personal types)."""
        return str.__str__(self)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str.__str__, return_schema=core_schema.str_schema()
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return dict(cls.json_schema)


class PersonalStr(ValueStr):
    """A string that is personal data: masked in ``repr``, ``str`` and formatting.

    Use :meth:`reveal` for the real text. JSON serialisation through pydantic emits the real text.
    """

    __slots__ = ()
    kind: ClassVar[PersonalKind] = PersonalKind.OTHER

    def masked(self) -> str:
        """The masked text."""
        return mask(str.__str__(self), self.kind)

    def __str__(self) -> str:
        return self.masked()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.masked()!r})"

    def __format__(self, spec: str) -> str:
        return format(self.masked(), spec)
