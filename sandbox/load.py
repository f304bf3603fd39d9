"""Load for tests and the stress run: every core busy, as on a CI runner shared with builds."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Optional

BUSY_LOOP = "while True: pass"


@contextlib.contextmanager
def cpu_hog(processes: Optional[int] = None) -> Iterator[None]:
    """``processes`` busy loops (default: one per core) until the block ends."""
    count = processes if processes is not None else os.cpu_count() or 2
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP]) for _ in range(count)]
    try:
        yield
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
