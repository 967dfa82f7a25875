"""``civil-affairs``: civil affairs' death-notice batches, picked up from an inbox and fanned out.

Civil affairs reports deaths two ways. Single notices are *pushed* to the sidecar (``deaths.notify``) and
need no adapter. Daily *batches* — CSV files in the columns of the ``civil-affairs/death-notice-csv``
mapping — land in a directory (a shared folder, an SFTP drop); this adapter watches it, feeds every row
through the gateway's event intake (the same dedupe and fan-out a push gets), writes the rows that do not
map to a rejects file, and moves each batch to ``done/`` once read. See ``docs/adapters/civil-affairs.md``.
"""

from ssgateway_adapters.civil_affairs.adapter import CivilAffairsAdapter, InboxConfig

__all__ = ["CivilAffairsAdapter", "InboxConfig"]
