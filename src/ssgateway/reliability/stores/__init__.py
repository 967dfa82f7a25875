"""Store backends: SQLite, PostgreSQL (both through the shared SQL layer) and Redis (idempotency only).

Open one with :func:`ssgateway.reliability.open_store`; these modules are imported only when chosen.
"""

__all__: list[str] = []
