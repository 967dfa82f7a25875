"""``bank-iso20022``: pension payments to a paying bank in ISO 20022 (or the bank's own flat files).

``payments.submit`` sends a canonical ``PaymentBatch`` as pain.001.001.09 message(s), validated against the
official XSD first; ``payments.status`` reads pain.002 status reports and camt.054 notifications of returned
payments; ``deaths.notify`` and ``survival.report`` stop, suspend and resume a person's future payments.
See ``docs/adapters/bank-iso20022.md``.
"""

from .adapter import BankIso20022Adapter
from .flatfile import FlatFileFormat
from .pain001 import MessagePart, build_pain001, message_id, split_batch
from .reports import REASONS, TRANSACTION_STATES, StatusReport, read_notification, read_status_report
from .schemas import CAMT054, PAIN001, PAIN002, namespace, schema, validate
from .settings import BankSettings, FlatFileSettings, InitiatingParty
from .stops import StopList, survival_key

__all__ = [
    "CAMT054",
    "PAIN001",
    "PAIN002",
    "REASONS",
    "TRANSACTION_STATES",
    "BankIso20022Adapter",
    "BankSettings",
    "FlatFileFormat",
    "FlatFileSettings",
    "InitiatingParty",
    "MessagePart",
    "StatusReport",
    "StopList",
    "build_pain001",
    "message_id",
    "namespace",
    "read_notification",
    "read_status_report",
    "schema",
    "split_batch",
    "survival_key",
    "validate",
]
