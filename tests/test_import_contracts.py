"""The import contracts between the package's rooms (``[tool.importlinter]`` in
pyproject.toml) hold, and each one fails when a forbidden import is added: run over a copy of
the package with one line added, never over the checkout itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env={"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_every_contract_holds_here() -> None:
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("core/bag.py", "from ..shoprenter import client", "Rooms by seam"),
        ("shoprenter/client.py", "from .. import webhook_provider", "Rooms by seam"),
        ("deliveries/listen.py", "from ..shoprenter import settings", "Rooms by seam"),
        ("inventory.py", "from . import program", "Rooms by seam"),
        ("core/rules.py", "import requests", "The core needs neither Pulumi nor HTTP"),
        ("deliveries/builder.py", "import pulumi", "The delivery side imports no Pulumi"),
        ("deliveries/receive.py", "import urllib3", "The receiver needs only pydantic"),
    ],
    ids=[
        "core-up",
        "api-to-pulumi-side",
        "delivery-to-api",
        "provider-to-program",
        "core-http",
        "delivery-pulumi",
        "receiver-urllib3",
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    tmp_path: Path, module: str, line: str, broken: str
) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    package = shutil.copytree(
        ROOT / "provider", tmp_path / "provider", ignore=shutil.ignore_patterns("__pycache__")
    )
    path = package / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")
    done = lint_imports(tmp_path)
    assert done.returncode != 0, done.stdout
    # The contract's line of the summary (a long name wraps once) says BROKEN.
    rest_of_line = r"(?:(?!KEPT)[^\n])*"
    summary = re.escape(broken) + rest_of_line + r"\n?" + rest_of_line + "BROKEN"
    assert re.search(summary, done.stdout), done.stdout
