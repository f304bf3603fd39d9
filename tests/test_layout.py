"""The Layout table of docs/development.md names every module of the package, in its room,
and no module that is gone: checked against the files, so it cannot go stale."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "provider"


def layout_table() -> str:
    page = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    return page.split("## Layout", 1)[1].split("\n## ", 1)[0]


def named_in(table: str) -> set[str]:
    """The package's files the table names, as paths under ``provider/``: a row of a room
    (its header row says ``provider/ROOM/``) names its files without the prefix."""
    named: set[str] = set()
    room = ""
    for row in table.splitlines():
        if not row.startswith("| "):
            continue
        first = row.split("|")[1]
        header = re.search(r"`provider/(\w+)/`", first)
        if first.strip().startswith("**"):
            room = f"{header.group(1)}/" if header else ""
            continue
        for name in re.findall(r"`([\w/.]+)`", first):
            if name.startswith("provider/"):
                named.add(name.removeprefix("provider/"))
            elif room and "/" not in name:
                named.add(room + name)
    return named


def test_the_layout_names_every_module_of_every_room() -> None:
    files = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.name != "__init__.py"
    }
    named = named_in(layout_table())
    assert files - named == set(), "modules the docs' Layout does not name"
    assert named - files == set(), "the docs' Layout names modules that are gone"
