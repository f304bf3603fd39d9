"""A minimal ``pulumi-language-python`` for machines that cannot get the official one.

The official Python language host is a Go module that this workplace's module proxy does
not serve, while the Pulumi CLI itself builds fine. The Python SDK already carries a
complete language runtime server, the one the Automation API uses for inline programs;
this file serves it as a plugin and points it at the project's ``__main__.py``. It also
runs Python plugins such as policy packs (``RunPlugin``), as the official host does: the
plugin's folder run by this interpreter, its output streamed back. What the official host
does beyond that (installing dependencies, ``pulumi about``) is not offered: the project's
own setup installs its virtualenv, which is also where a policy pack's ``pulumi-policy`` lives.

The engine starts a plugin with flags and the engine's address last, and reads the port
the plugin listens on from its first line of output.
"""

from __future__ import annotations

import os
import queue
import runpy
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from threading import Event
from typing import IO, Any

import grpc
from plugin_lifecycle import end_with_engine
from pulumi.automation._server import LanguageServer
from pulumi.runtime.proto import language_pb2, language_pb2_grpc


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

    def RunPlugin(self, request: Any, context: Any) -> Iterator[Any]:  # noqa: N802 (gRPC name)
        """Run a Python plugin (a policy pack): ``python <its folder> ARGS``, output streamed."""
        environment = {**os.environ, **dict(item.split("=", 1) for item in request.env)}
        process = subprocess.Popen(
            [sys.executable, "-u", request.info.program_directory, *request.args],
            cwd=request.pwd or None,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        yield from _streamed(process)
        yield language_pb2.RunPluginResponse(exitcode=process.wait())

    def _run_entry_point(self) -> None:
        runpy.run_path(str(self._entry_point), run_name="__main__")


def _streamed(process: subprocess.Popen[bytes]) -> Iterator[Any]:
    """The process's stdout and stderr as RunPluginResponse messages, as they come."""
    chunks: queue.Queue[tuple[str, bytes]] = queue.Queue()

    def pump(name: str, pipe: IO[bytes]) -> None:
        for line in iter(pipe.readline, b""):
            chunks.put((name, line))
        chunks.put((name, b""))

    pumps = [("stdout", process.stdout), ("stderr", process.stderr)]
    for name, pipe in pumps:
        threading.Thread(target=pump, args=(name, pipe), daemon=True).start()
    open_pipes = len(pumps)
    while open_pipes:
        name, chunk = chunks.get()
        if chunk and name == "stdout":
            yield language_pb2.RunPluginResponse(stdout=chunk)
        elif chunk:
            yield language_pb2.RunPluginResponse(stderr=chunk)
        else:
            open_pipes -= 1


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
