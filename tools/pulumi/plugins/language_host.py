"""A minimal ``pulumi-language-python`` for machines that cannot get the official one.

The official Python language host is a Go module that this workplace's module proxy does
not serve, while the Pulumi CLI itself builds fine. The Python SDK already carries a
complete language runtime server, the one the Automation API uses for inline programs;
this file serves it as a plugin and points it at the project's ``__main__.py``. What the
official host does beyond running the program (installing dependencies, ``pulumi about``,
policy packs) is not offered: the project's own setup installs its virtualenv.

The engine starts a plugin with flags and the engine's address last, and reads the port
the plugin listens on from its first line of output.
"""

from __future__ import annotations

import runpy
import sys
from concurrent import futures
from pathlib import Path
from threading import Event
from typing import Any

import grpc
from plugin_lifecycle import end_with_engine
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2_grpc


class ProjectLanguageHost(LanguageServer):
    """Runs the project's entry point (``__main__.py`` by default) as the Pulumi program."""

    def __init__(self) -> None:
        super().__init__(program=self._run_entry_point)
        self._entry_point = Path("__main__.py")

    def Run(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC method name)
        directory = Path(request.info.program_directory or request.pwd or ".")
        entry = request.info.entry_point or request.program or "."
        self._entry_point = directory / entry
        if self._entry_point.is_dir():
            self._entry_point = self._entry_point / "__main__.py"
        sys.path.insert(0, str(self._entry_point.parent))
        return super().Run(request, context)  # type: ignore[no-untyped-call]

    def _run_entry_point(self) -> None:
        runpy.run_path(str(self._entry_point), run_name="__main__")


def main() -> None:
    end_with_engine(sys.argv[1:])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    language_pb2_grpc.add_LanguageRuntimeServicer_to_server(ProjectLanguageHost(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    try:
        Event().wait()
    except KeyboardInterrupt:  # SIGINT or SIGTERM from the engine, or the engine is gone
        server.stop(0)


if __name__ == "__main__":
    main()
