"""Real state backends on loopback, in a scratch folder: PostgreSQL, and S3 (moto's server).

A team shares a stack through a self-managed backend that locks it during an update. The
tests and the bench run the real servers: ``initdb``/``pg_ctl`` for PostgreSQL (as the
``postgres`` user when run as root, which ``initdb`` refuses), and ``moto_server`` from PyPI
for S3, with dummy keys and the metadata service switched off so that nothing leaves the
machine. Each server listens on 127.0.0.1 only and is stopped when its block ends.

``python -m sandbox.backends -- COMMAND`` runs COMMAND with both servers up and their URLs in
``SANDBOX_POSTGRES_URL`` and ``SANDBOX_S3_URL`` (with the S3 variables it needs), as CI does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

POSTGRES_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
BUCKET = "pulumi-state"
# What the AWS SDK inside the pulumi CLI needs to talk to moto and to nothing else.
S3_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "sandbox",
    "AWS_SECRET_ACCESS_KEY": "sandbox",
    "AWS_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {seconds:.0f} s")


def postgres_tool(name: str) -> str:
    """A PostgreSQL server program: from PATH, else from Debian's versioned folder."""
    found = shutil.which(name) or next(
        (str(d / name) for d in POSTGRES_BIN_DIRS if (d / name).exists()), None
    )
    if found is None:
        raise FileNotFoundError(f"{name} not found: install a PostgreSQL server (apt postgresql)")
    return found


def _as_postgres_user(command: list[str]) -> list[str]:
    """``initdb`` and the server refuse to run as root: run them as ``postgres`` then."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip() or done.stdout}")


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    """A PostgreSQL server on 127.0.0.1 with a database ``pulumi``; yields the backend URL.

    Its data lives in a folder of its own under the system's temporary folder (the server's
    user must be able to reach it), removed when the block ends.
    """
    data, port = Path(tempfile.mkdtemp(prefix="sandbox-postgres-")), free_port()
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(data, user.pw_uid, user.pw_gid)
    control = [postgres_tool("pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w"]
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    try:
        _run(
            _as_postgres_user(
                [postgres_tool("initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
            )
        )
        _run(_as_postgres_user([*control, "-o", options, "start"]))
        _run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE pulumi",
            ]
        )
        yield f"postgres://postgres@127.0.0.1:{port}/pulumi?sslmode=disable"
    finally:
        subprocess.run(
            _as_postgres_user([*control, "-m", "fast", "stop"]), capture_output=True, check=False
        )
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def s3(scratch: Path) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with a bucket for state; yields the backend URL."""
    port = free_port()
    log = (scratch / "moto.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **S3_ENVIRONMENT},
    )
    try:
        wait_for_port(port)
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 (moto's, sandbox only)

        endpoint = f"http://127.0.0.1:{port}"
        client = boto3.client("s3", endpoint_url=endpoint, **_boto_credentials())
        client.create_bucket(Bucket=BUCKET)
        yield (
            f"s3://{BUCKET}?endpoint=127.0.0.1:{port}&disableSSL=true"
            "&s3ForcePathStyle=true&region=us-east-1"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_ENVIRONMENT["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_ENVIRONMENT["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_ENVIRONMENT["AWS_REGION"],
    }


def main(argv: list[str]) -> int:
    """Run ``argv`` (after ``--``) with both servers up, their URLs in the environment."""
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print("usage: python -m sandbox.backends -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="sandbox-backends-") as tmp,
        postgres() as postgres_url,
        s3(Path(tmp)) as s3_url,
    ):
        urls = {"SANDBOX_POSTGRES_URL": postgres_url, "SANDBOX_S3_URL": s3_url}
        return subprocess.run(
            command, env={**os.environ, **S3_ENVIRONMENT, **urls}, check=False
        ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
