from tests.runtime.conftest import make_gateway, partner, registry

__all__ = ["make_gateway", "partner", "registry"]
