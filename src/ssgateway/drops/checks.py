"""Checks a drop's records must pass beyond their model: the period, and amounts against rates.

No record may be for a month after the manifest's period; amounts must follow the rates configured for
the record's region, insurance and month (where rates are configured). Both checks are picklable
:class:`~ssgateway.drops.worker.Check` s, applied in the worker processes after the mapping; a record that
fails one is rejected with the field, the reason and the value at fault.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel

from ssgateway.config import RateConfig
from ssgateway.drops.worker import Violation
from ssgateway.model import ContributionRecord, Period, RecordType

__all__ = ["PeriodCeiling", "RateCheck"]

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class PeriodCeiling:
    """A record's month may not lie after the drop's period (the manifest's ``period``)."""

    period: Period

    def __call__(self, entity: BaseModel) -> Violation | None:
        """The violation, or None."""
        if isinstance(entity, ContributionRecord) and entity.period.ordinal > self.period.ordinal:
            return Violation(
                "period",
                f"period {entity.period} is after the drop's period {self.period}",
                str(entity.period),
            )
        return None


@dataclass(frozen=True)
class RateCheck:
    """Amounts must be the base times the rates configured for the record's region, insurance and month.

    The rule with the longest matching region prefix applies; records no rule covers, and refunds (whose
    amounts may be partial), are not checked.
    """

    rates: tuple[RateConfig, ...]

    def rule(self, record: ContributionRecord) -> RateConfig | None:
        """The rule that applies to ``record``, if any."""
        region, month = str(record.region), record.period.ordinal
        best: RateConfig | None = None
        for rule in self.rates:
            if (
                rule.insurance_type is record.insurance_type.value
                and region.startswith(rule.region)
                and (rule.from_period is None or rule.from_period.ordinal <= month)
                and (rule.to_period is None or month <= rule.to_period.ordinal)
                and (best is None or len(rule.region) > len(best.region))
            ):
                best = rule
        return best

    def __call__(self, entity: BaseModel) -> Violation | None:
        """The violation, or None."""
        if not isinstance(entity, ContributionRecord) or entity.record_type.value is RecordType.REFUND:
            return None
        rule = self.rule(entity)
        if rule is None:
            return None
        base = entity.base
        if entity.employer_amount == 0:  # a flexible worker pays alone
            if rule.flexible is None:
                return None
            expected = {"individual_amount": (rule.flexible, "flexible-worker rate")}
        else:
            expected = {"employer_amount": (rule.employer, "employer rate"),
                        "individual_amount": (rule.individual, "individual rate")}  # fmt: skip
        for field, (rate, what) in expected.items():
            amount: Decimal = getattr(entity, field)
            due = (base * rate).quantize(_CENT, rounding=ROUND_HALF_UP)
            if abs(amount - due) > rule.tolerance:
                return Violation(
                    field,
                    f"{field.replace('_', ' ')} {amount} is not the base {base} × {what} {rate} = {due}"
                    f" (rates for region {rule.region}, {rule.insurance_type.value})",
                    str(amount),
                )
        return None
