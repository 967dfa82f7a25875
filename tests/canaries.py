"""A FIFO canary: proves a parser never opened a local file it was pointed at."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path


class FifoCanary:
    """A FIFO that records whether anything opened it for reading, and lets that reader go at once.

    A watcher thread keeps trying to open the write end without blocking; that succeeds only while a
    reader has the FIFO open, so a parser that opens it is seen, then sees end of file instead of hanging
    (lxml releases the GIL while it loads an entity).
    """

    def __init__(self, path: Path) -> None:
        os.mkfifo(path)
        self.path = path
        self.opened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.002)
                continue
            self.opened += 1
            os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
