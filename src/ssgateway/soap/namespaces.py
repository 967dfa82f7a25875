"""Namespaces of the SOAP envelope."""

from typing import Final

__all__ = ["SOAP11_ENV"]

SOAP11_ENV: Final = "http://schemas.xmlsoap.org/soap/envelope/"
"""The SOAP 1.1 envelope namespace."""
