"""``python -m scripts.house``: how the package is built, in figures a reader can compare.

Read from the code with :mod:`ast` (nothing is imported):

* the modules of ``provider/`` and the import arrows between them (deferred imports inside
  functions too, since they are arrows all the same);
* the arrows that run back up: a module that imports a package above it (its ``__init__``);
* the levels: the longest chain of the other arrows from a module down to one that imports
  nothing of the package (a cycle would make it endless, so it is reported instead);
* the longest class, and every function longer than :data:`LONG` lines (docstrings aside).
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "provider"
LONG = 40


@dataclass(frozen=True)
class Module:
    name: str  # dotted, under the package: "program", "core.model"
    path: Path

    @property
    def is_package(self) -> bool:
        return self.path.name == "__init__.py"

    @property
    def package(self) -> str:
        """The package a relative import in this module starts from."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


def modules(root: Path = PACKAGE) -> dict[str, Module]:
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = Module(".".join(parts), path)
    return found


def arrows(module: Module, known: dict[str, Module]) -> set[str]:
    """The package's modules this one imports (relative or as ``provider.``)."""
    targets: set[str] = set()
    for node in ast.walk(ast.parse(module.path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = _resolve(module, node)
            if base is None:
                continue
            for alias in node.names:
                child = f"{base}.{alias.name}" if base else alias.name
                targets.add(child if child in known else base)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("provider."):
                    targets.add(alias.name.removeprefix("provider."))
    return {target for target in targets if target in known and target != module.name}


def _resolve(module: Module, node: ast.ImportFrom) -> str | None:
    if node.level == 0:
        name = node.module or ""
        return name.removeprefix("provider").lstrip(".") if name.startswith("provider") else None
    parts = module.package.split(".") if module.package else []
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def main() -> None:
    known = modules()
    graph = {name: arrows(module, known) for name, module in known.items()}
    up = sorted(
        (name, target)
        for name, targets in graph.items()
        for target in targets
        if known[target].is_package and name.startswith(target)
    )
    downward = {name: targets - {t for n, t in up if n == name} for name, targets in graph.items()}

    @functools.cache
    def level(name: str, trail: tuple[str, ...] = ()) -> int:
        if name in trail:
            raise RecursionError(" -> ".join([*trail, name]))
        below = [level(target, (*trail, name)) for target in downward[name]]
        return 1 + max(below, default=0)

    try:
        levels = max(level(name) for name in graph)
    except RecursionError as cycle:
        levels = -1
        print(f"cycle: {cycle}")
    print(f"modules: {len(known)}; arrows: {sum(map(len, graph.values()))}; levels: {levels}")
    shown = "".join(f"\n  {name} -> {target or '(the package)'}" for name, target in up)
    print(f"arrows back up (not counted in the levels): {len(up)}{shown}")
    classes, functions = lengths(known)
    name, lines = max(classes, key=lambda item: item[1])
    print(f"longest class: {name} ({lines} lines)")
    long = sorted((item for item in functions if item[1] > LONG), key=lambda item: -item[1])
    print(f"functions over {LONG} lines: {len(long)}")
    for name, lines in long:
        print(f"  {name}: {lines}")


def docstring_lines(node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """The lines of a definition's own docstring (not counted: they explain, they do not do)."""
    first = node.body[0] if node.body else None
    if not isinstance(first, ast.Expr) or first.end_lineno is None:
        return 0
    text = first.value.value if isinstance(first.value, ast.Constant) else None
    return first.end_lineno - first.lineno + 1 if isinstance(text, str) else 0


def lengths(known: dict[str, Module]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """(class, lines) and (function, lines) for every definition of the package, each without
    its own docstring."""
    classes: list[tuple[str, int]] = []
    functions: list[tuple[str, int]] = []
    for name, module in known.items():
        for node in ast.walk(ast.parse(module.path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                entry = (f"{name}.{node.name}", lines - docstring_lines(node))
                (classes if isinstance(node, ast.ClassDef) else functions).append(entry)
    return classes, functions


if __name__ == "__main__":
    main()
