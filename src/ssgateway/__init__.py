"""ssgateway: one canonical model for social-security data exchange, and the adapters that speak legacy.

The public surface: :mod:`ssgateway.model` (canonical model), :mod:`ssgateway.errors`,
:mod:`ssgateway.sdk` (for adapter authors), :mod:`ssgateway.config`, :mod:`ssgateway.masking`,
:mod:`ssgateway.testing`. The names below are the ones most programs need.
"""

from ssgateway._version import __version__
from ssgateway.config import GatewayConfig, load_config
from ssgateway.errors import SSGatewayError
from ssgateway.masking import mask, mask_text

__all__ = ["GatewayConfig", "SSGatewayError", "__version__", "load_config", "mask", "mask_text"]
