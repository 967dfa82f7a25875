"""``medical-insurance``: the national medical-insurance platform, spoken through its JSON envelope.

Serves ``medical.insurance_status`` (transaction 1101) and, as a subscriber of death notices,
``deaths.notify`` (the death report, whose transaction number is unverified and configured). Every call
carries a msgid unique across restarts and replicas, the session number from sign-in (9001, renewed once
when the platform says it expired) and a signature from a pluggable signer (SM3 shipped). See
``docs/adapters/medical-insurance.md``.
"""

from ssgateway_adapters.medical_insurance.adapter import SIGN_IN, MedicalInsuranceAdapter
from ssgateway_adapters.medical_insurance.config import (
    DeathReportSettings,
    ErrorSettings,
    MedicalInsuranceConfig,
    MsgIdSettings,
    SigningSettings,
    SignInSettings,
    StatusSettings,
)
from ssgateway_adapters.medical_insurance.envelope import INFVER, REQUEST_KEYS, Answer, build_envelope
from ssgateway_adapters.medical_insurance.errors import ErrorPolicy
from ssgateway_adapters.medical_insurance.msgid import (
    MSGID_LENGTH,
    CheckpointCounter,
    MemoryCounter,
    MsgIdGenerator,
)
from ssgateway_adapters.medical_insurance.session import Session
from ssgateway_adapters.medical_insurance.signing import (
    HmacSM3,
    Signer,
    SM3Digest,
    Unsigned,
    signing_bytes,
    sm3_hexdigest,
)

__all__ = [
    "INFVER",
    "MSGID_LENGTH",
    "REQUEST_KEYS",
    "SIGN_IN",
    "Answer",
    "CheckpointCounter",
    "DeathReportSettings",
    "ErrorPolicy",
    "ErrorSettings",
    "HmacSM3",
    "MedicalInsuranceAdapter",
    "MedicalInsuranceConfig",
    "MemoryCounter",
    "MsgIdGenerator",
    "MsgIdSettings",
    "SM3Digest",
    "Session",
    "SignInSettings",
    "Signer",
    "SigningSettings",
    "StatusSettings",
    "Unsigned",
    "build_envelope",
    "signing_bytes",
    "sm3_hexdigest",
]
