"""Serves ``python -m pulumi.dynamic`` (the dynamic-provider plugin) for the engine.

What it adds to the SDK's server is how the process ends (see ``plugin_lifecycle``): on SIGINT
and SIGTERM even when started with SIGINT ignored, and with the engine, as the official Go
plugins do. Everything the provider does itself (ending with the engine, errors as their
message) lives in ``provider.shoprenter.lifeline`` and holds with Pulumi's official plugin too.
"""

from __future__ import annotations

import os
import runpy
import sys

from plugin_lifecycle import end_with_engine


def main() -> None:
    end_with_engine(sys.argv[1:])
    sys.path.insert(0, os.getcwd())  # as ``python -m`` would: the project's own modules
    runpy.run_module("pulumi.dynamic", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
