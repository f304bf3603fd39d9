"""A memo on disk: the value a computation gave, kept for the key it was computed from.

The program validates every declaration with pydantic, and importing pydantic and building the
models is most of what a run of the program costs beyond the Pulumi SDK's own start-up
(``make bench`` row 14). Validation is a pure function of the declarations, the stack's rules
and this package's code, so the program keeps what it got for them and an unchanged run (the
update phase of every ``up``, whose preview phase has just validated the same input) skips it.

* One file per *slot* (the program uses one per project and stack), replaced at every
  store: the memo never holds more than the last value of each slot.
* A value is returned only for the key it was stored with; anything else (no file, another
  key, a file that does not parse) is a miss, and a store that fails is skipped: the memo can
  make a run cheaper, never make it fail.
* What it holds is trusted as Python trusts its own ``__pycache__`` beside the code: the files
  are the user's (mode 0600, in ``$XDG_CACHE_HOME`` or ``~/.cache``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FOLDER = "shoprenter-webhooks"


def key_of(*parts: Any) -> str:
    """A digest of the parts' ``repr``: any value YAML or JSON gives can be digested (keys of
    any type, dates, recursive aliases), and values of different types never collide (``1``,
    ``'1'`` and ``True`` validate differently). Mappings in another order are another key:
    a miss, which only costs a validation."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()


@functools.cache
def this_code() -> str:
    """A digest of this package's code: what a release is, and what any edit of a checkout
    changes (its version alone does not)."""
    return code_digest(Path(__file__).resolve().parent.parent)


def code_digest(package: Path) -> str:
    """A digest of every file of ``package``, its rooms' (subpackages') too, by path."""
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            name = path.relative_to(package).as_posix()
            digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_home() -> Path:
    """``$XDG_CACHE_HOME``, else ``~/.cache``: where a user's tools keep what they can redo."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


@dataclass(frozen=True)
class Memo:
    """One slot of the memo: a file holding the last key and value stored in it."""

    path: Path

    @classmethod
    def slot(cls, kind: str, *names: str) -> Memo:
        """The slot of ``kind`` named by ``names`` (such as a project folder and a stack)."""
        return cls(cache_home() / FOLDER / kind / f"{key_of(*names)[:24]}.json")

    def recall(self, key: str) -> Any:
        """The value stored under ``key``, or ``None``."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(document, dict) or document.get("key") != key:
            return None
        return document.get("value")

    def keep(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` in place of what the slot held, in one rename."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
        except OSError:
            return
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump({"key": key, "value": value}, file)
            os.replace(temporary, self.path)
        except OSError:
            Path(temporary).unlink(missing_ok=True)
