"""Run the real Pulumi CLI on this project, offline, against a local file backend.

Used by the end-to-end tests, the demo and the benchmarks. A :class:`LocalStack` is a
throw-away copy of the project (``Pulumi.yaml``, ``__main__.py`` and a link to
``provider/``) with its own ``PULUMI_HOME``, state backend and passphrase, so that nothing
it does touches the work tree or the user's own Pulumi setup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import yaml

from provider.fleet import delete_cut_off_sidecars
from provider.shoprenter.settings import ENVIRONMENT_VARIABLES, SECRET_KEYS, stack_config

ROOT = Path(__file__).resolve().parent.parent
PASSPHRASE = "local-only-passphrase"


# The Python plugins the engine can run with: this project's stand-ins (tools/pulumi/plugins),
# or Pulumi's official ones, which users run (built from ../shared/pulumi-official-python).
PLUGIN_SETS = ("stand-ins", "official")


class PluginsUnavailable(RuntimeError):
    """The official plugins cannot be had here (no ../shared beside this clone)."""


def pulumi_binary(plugins: str = "stand-ins") -> Path:
    """The CLI ``scripts/pulumi-cli`` finds or builds (it may take minutes the first time),
    with the given plugin set beside it."""
    command = [str(ROOT / "scripts" / "pulumi-cli")]
    if plugins == "official":
        command.append("--official")
    found = subprocess.run(command, check=False, capture_output=True, text=True)
    if found.returncode == 3 and plugins == "official":
        raise PluginsUnavailable(found.stderr.strip())
    if found.returncode != 0:
        raise RuntimeError(f"scripts/pulumi-cli failed:\n{found.stderr}")
    return Path(found.stdout.strip())


def is_official(binary: Path) -> bool:
    """Whether this CLI runs Pulumi's official Python plugins (``scripts/pulumi-cli
    --official`` puts it in a folder of its own, named so)."""
    return binary.parent.name.endswith("-official")


def scratch_project(
    target: Path, project_dir: Path = ROOT, virtualenv: Path = Path(sys.prefix)
) -> Path:
    """A throw-away copy of the project: ``Pulumi.yaml``, ``__main__.py``, links to
    ``provider/`` (when the project has one) and to a virtualenv (this interpreter's unless
    told) as ``.venv``, which ``Pulumi.yaml``'s ``virtualenv`` option names and Pulumi's
    official plugins run."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ("Pulumi.yaml", "__main__.py"):
        shutil.copy(project_dir / name, target / name)
    for name, source in (("provider", project_dir / "provider"), (".venv", virtualenv)):
        link = target / name
        if source.exists() and not link.exists():
            link.symlink_to(source, target_is_directory=True)
    return target


def shoprenter_variables(connection: dict[str, str]) -> dict[str, str]:
    """Connection settings (``{"apiUrl": …}``) as ``SHOPRENTER_*`` variables, for the commands
    that read them (``python -m provider export``)."""
    return {ENVIRONMENT_VARIABLES[key]: value for key, value in connection.items()}


def engine_environment(binary: Path, home: Path, backend: str) -> dict[str, str]:
    """The environment of an offline engine: its own ``PULUMI_HOME``, this backend, a
    passphrase, no update checks or plugin downloads, and no ``SHOPRENTER_*`` from outside.

    No ``PULUMI_PYTHON_CMD`` either, as on a user's machine: the plugins find the interpreter
    the way they do there, through the project's ``virtualenv`` option."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PULUMI_", "SHOPRENTER_"))
    }
    environment.update(
        PATH=f"{binary.parent}{os.pathsep}{environment.get('PATH', '')}",
        PULUMI_HOME=str(home),
        PULUMI_BACKEND_URL=backend,
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        PULUMI_SKIP_CONFIRMATIONS="true",
        NO_COLOR="1",
    )
    return environment


# The secrets the CLI encrypted for this process's stacks, by the passphrase's salt of the
# stack file that holds them: {salt: {plaintext: ciphertext}}. Every stack here has PASSPHRASE.
_encrypted: dict[str, dict[str, str]] = {}


def init_stack(
    pulumi: Callable[..., object], stack_file: Path, stack: str, config: dict[str, str]
) -> None:
    """``pulumi stack init STACK`` with ``config`` (``shoprenter:`` keys), the secret ones
    encrypted, through ``pulumi(*args)``, the caller's way of running the CLI in the project.

    The CLI encrypts the first secrets of a process, in one ``config set-all``. A later stack
    whose secrets it has already encrypted gets its ``stack_file`` written first, as a
    repository holds one (the passphrase's salt and each secret encrypted under it), which
    ``stack init`` adopts: one CLI start fewer, and one derivation of the passphrase's key
    (the CLI's 1,000,000 PBKDF2 rounds, paid by each command that reads a stack's secrets)."""
    secrets = {key: value for key, value in config.items() if key.split(":")[1] in SECRET_KEYS}
    salt = next(
        (salt for salt, known in _encrypted.items() if set(secrets.values()) <= known.keys()),
        None,
    )
    if salt is not None:
        values = {
            key: {"secure": _encrypted[salt][value]} if key in secrets else value
            for key, value in config.items()
        }
        document = {"encryptionsalt": salt, "config": values}
        stack_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    pulumi("stack", "init", stack)
    if salt is not None:
        return
    pairs = []
    for key, value in config.items():
        pairs += ["--secret" if key in secrets else "--plaintext", f"{key}={value}"]
    pulumi("config", "set-all", "--stack", stack, *pairs)
    written = yaml.safe_load(stack_file.read_text(encoding="utf-8"))
    known = _encrypted.setdefault(written["encryptionsalt"], {})
    known.update({value: written["config"][key]["secure"] for key, value in secrets.items()})


class PulumiError(RuntimeError):
    """A pulumi command failed; the message carries its output."""

    def __init__(self, command: list[str], result: subprocess.CompletedProcess[str]) -> None:
        self.output = result.stdout + result.stderr
        super().__init__(f"`pulumi {' '.join(command)}` exited {result.returncode}:\n{self.output}")


class LocalStack:
    """One stack of a scratch copy of the project, driven through the ``pulumi`` CLI."""

    def __init__(
        self,
        workdir: Path,
        binary: Path,
        stack: str = "local",
        *,
        project_dir: Path = ROOT,
        backend: Optional[str] = None,
        extra_environment: Optional[dict[str, str]] = None,
        virtualenv: Path = Path(sys.prefix),
        project_name: Optional[str] = None,
    ) -> None:
        """``backend``: a state backend URL (default: a ``file://`` folder in ``workdir``);
        ``extra_environment``: what that backend needs (S3 keys, for one); ``project_name``:
        another project of the same program (its config namespace is its name)."""
        self.workdir = workdir
        self.project = scratch_project(workdir / "project", project_dir, virtualenv)
        manifest = self.project / "Pulumi.yaml"
        document = yaml.safe_load(manifest.read_text(encoding="utf-8"))
        if project_name:
            document["name"] = project_name
            manifest.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        self.namespace: str = document["name"]
        self.binary = binary
        self.stack = stack
        (workdir / "state").mkdir(exist_ok=True)
        backend = backend or f"file://{workdir / 'state'}"
        home = workdir / "pulumi-home"
        self.environment = {
            **engine_environment(binary, home, backend),
            # The program's memo (provider.core.memo) of this stack, not the user's.
            "XDG_CACHE_HOME": str(workdir / "cache"),
            **(extra_environment or {}),
        }

    @property
    def config_file(self) -> Path:
        return self.project / f"Pulumi.{self.stack}.yaml"

    def pulumi(
        self, *args: str, check: bool = True, sigint_ignored: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``pulumi ARGS`` in the project; raise :class:`PulumiError` when it fails.

        ``sigint_ignored`` starts it as a background job of a non-interactive shell starts
        (``pulumi up &`` in some CI runners): with SIGINT ignored, which ``exec`` passes on.
        """
        command = [*args, "--non-interactive"]
        argv = [str(self.binary), *command]
        if sigint_ignored:
            argv = ["bash", "-c", 'trap "" INT; exec "$0" "$@"', *argv]
        result = subprocess.run(
            argv,
            check=False,
            cwd=self.project,
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise PulumiError(command, result)
        return result

    def start(self, *args: str, log: Optional[Path] = None) -> subprocess.Popen[str]:
        """Start ``pulumi ARGS`` in its own process group (for a test that kills it midway or
        runs two at once); its output goes to ``log`` when given."""
        output = log.open("w", encoding="utf-8") if log else subprocess.DEVNULL
        try:
            return subprocess.Popen(
                [str(self.binary), *args, "--non-interactive"],
                cwd=self.project,
                env=self.environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,
            )
        finally:
            if log:
                output.close()  # type: ignore[union-attr]

    def processes(self) -> list[int]:
        """Processes still running with this stack's ``PULUMI_HOME``: the CLI and its plugins."""
        home = f"PULUMI_HOME={self.environment['PULUMI_HOME']}\0".encode()
        found = []
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if home in environ.read_bytes():
                    found.append(int(environ.parent.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return found

    def create(self, connection: dict[str, str]) -> None:
        """Make the stack with these ``shoprenter:`` settings, the secret ones encrypted."""
        init_stack(self.pulumi, self.config_file, self.stack, stack_config(connection))

    def set_config(self, key: str, value: Any) -> None:
        """Write one config value (any YAML: a list stays a list) to the stack file;
        ``None`` removes it."""
        document = yaml.safe_load(self.config_file.read_text(encoding="utf-8"))
        config = document.setdefault("config", {})
        if value is None:
            config.pop(key, None)
        else:
            config[key] = value
        self.config_file.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    def declare(self, webhooks: Optional[list[dict[str, Any]]]) -> None:
        """Replace the stack's ``webhooks`` declaration (``None`` removes it)."""
        self.set_config(f"{self.namespace}:webhooks", webhooks)

    def up(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.pulumi("up", "--yes", *extra)

    def recover(self) -> None:
        """After a killed run, docs/operations.md's recovery, step by step: a cut-off
        sidecar deleted, the lock cancelled, an ``up``, pending creates cleared."""
        stacks = self.workdir / "state" / ".pulumi" / "stacks"  # nothing there on another backend
        delete_cut_off_sidecars(stacks, self.namespace, self.stack)
        self.pulumi("cancel", "--yes", check=False)  # no lock left is no error here
        self.up()
        self.pulumi("refresh", "--clear-pending-creates", "--yes")

    def outputs(self) -> dict[str, Any]:
        """The stack's outputs; none is secret (a secret one reads ``[secret]``), so the CLI
        is not asked to derive the passphrase's key to show them."""
        result = self.pulumi("stack", "output", "--json")
        return dict(yaml.safe_load(result.stdout) or {})
