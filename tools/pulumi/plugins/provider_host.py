"""Serves ``python -m pulumi.dynamic`` (the dynamic-provider plugin) for the engine.

On top of the SDK's own server, two things the SDK does not do:

* it ends with the engine (see ``plugin_lifecycle``);
* an error whose ``report_plainly`` attribute is true (``provider`` marks its own errors so:
  they already say what failed, where and why) reaches the user as its message alone. The SDK
  reports every provider exception with ``traceback.format_exc()``; its server is started by
  importing its ``__main__`` module, so that function is the one place to step in, and only
  this process, which does nothing but serve the provider, sees the change.
"""

from __future__ import annotations

import os
import runpy
import sys
import traceback
from typing import Optional

from plugin_lifecycle import end_with_engine

_format_exc = traceback.format_exc


def _plain_or_traceback(limit: Optional[int] = None, chain: bool = True) -> str:
    error = sys.exc_info()[1]
    if error is not None and getattr(error, "report_plainly", False):
        return f"{type(error).__name__}: {error}"
    return _format_exc(limit, chain)


def main() -> None:
    end_with_engine(sys.argv[1:])
    traceback.format_exc = _plain_or_traceback
    sys.path.insert(0, os.getcwd())  # as ``python -m`` would: the project's own modules
    runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
