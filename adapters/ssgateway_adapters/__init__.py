"""First-party ssgateway adapters. Each subpackage is one adapter, built only on the public SDK."""
