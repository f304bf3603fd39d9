"""How ``make test`` shares the suite among its pytest-xdist workers, so that the run ends
when the last long group ends, not an hour of short groups later.

Two rules, wired in ``tests/conftest.py``:

* **A group is a file, and a file's tests of one plugin set.** A worker runs a group whole,
  so a module's fixtures (a repository of shops, a GitLab runner) are built once; but the
  two plugin sets of an engine file share nothing, and as two groups they run side by side.
* **The longest group starts first.** ``tests/durations.json`` holds each test's seconds
  from a whole run (``--store-durations`` writes it); the workers order their collection by
  their group's total, longest first, and the scheduler hands groups out in that order. A
  test not in the file counts as nothing: it is still run, only perhaps last.

xdist's own ``loadfile`` keeps files whole but starts the files with the most tests first,
so the three-test files that take ten minutes (the README walk, act, GitLab) started last
and ran alone at the end.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

from sandbox.local_engine import PLUGIN_SETS

DURATIONS = Path(__file__).with_name("durations.json")
PLUGIN_SET = re.compile(rf"[\[-]({'|'.join(map(re.escape, PLUGIN_SETS))})[-\]]")


def group_of(nodeid: str) -> str:
    """``tests/test_x.py``, or ``tests/test_x.py[official]`` for its tests of one plugin set."""
    file = nodeid.split("::", 1)[0]
    plugins = PLUGIN_SET.search(nodeid)
    return f"{file}[{plugins[1]}]" if plugins else file


class ByGroupLongestFirst(LoadScopeScheduling):
    """xdist's scope scheduling with :func:`group_of` as the scope, handed out in the
    order the workers collected (they put the longest group first), not by test count."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        self.config.option.loadscopereorder = False

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)


def longest_group_first(
    items: Sequence[pytest.Item], durations: Mapping[str, float]
) -> list[pytest.Item]:
    """The items, a group's together, the group with the most seconds first; the order
    within a group (pytest's, which sets fixtures up fewest times) is kept."""
    totals: dict[str, float] = defaultdict(float)
    for item in items:
        totals[group_of(item.nodeid)] += durations.get(item.nodeid, 0.0)
    return sorted(items, key=lambda item: (-totals[group_of(item.nodeid)], group_of(item.nodeid)))


def read_durations(path: Path = DURATIONS) -> dict[str, float]:
    if not path.exists():
        return {}
    durations: dict[str, float] = json.loads(path.read_text(encoding="utf-8"))
    return durations


def store_durations(measured: Iterable[tuple[str, float]], path: Path = DURATIONS) -> None:
    """Add a run's seconds per test (setup, call and teardown) to the file, rounded to a
    tenth: the order needs no more, and the file's diffs stay readable."""
    durations = read_durations(path)
    totals: dict[str, float] = defaultdict(float)
    for nodeid, seconds in measured:
        totals[nodeid] += seconds
    durations.update({nodeid: round(seconds, 1) for nodeid, seconds in totals.items()})
    path.write_text(json.dumps(dict(sorted(durations.items())), indent=1) + "\n", "utf-8")


class DurationRecorder:
    """With ``--store-durations``, in the process that sees every report (xdist's
    controller, or pytest alone): each test's phases, stored when the run ends."""

    def __init__(self) -> None:
        self.measured: list[tuple[str, float]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.measured.append((report.nodeid, report.duration))

    def pytest_sessionfinish(self) -> None:
        store_durations(self.measured)
