"""How make test shares the suite among its workers: a file whole, split by plugin set, the
longest group first, from durations a run stores."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest

from tests.scheduling import group_of, longest_group_first, read_durations, store_durations


@dataclass
class Item:
    nodeid: str


def test_a_group_is_a_file_and_its_tests_of_one_plugin_set() -> None:
    assert group_of("tests/test_model.py::test_x[a-b]") == "tests/test_model.py"
    assert group_of("tests/test_engine.py::test_up[official]") == "tests/test_engine.py[official]"
    assert group_of("tests/test_engine.py::test_up[stand-ins-json]") == (
        "tests/test_engine.py[stand-ins]"
    )
    assert group_of("tests/test_engine.py::test_up[xml-official]") == (
        "tests/test_engine.py[official]"
    )
    assert group_of("tests/test_shards.py::test_official[json]") == "tests/test_shards.py"


def test_the_longest_group_goes_first_and_keeps_its_order_and_an_unknown_test_counts_nothing() -> (
    None
):
    ids = [
        "tests/test_a.py::one",
        "tests/test_e.py::up[stand-ins]",
        "tests/test_e.py::up[official]",
        "tests/test_e.py::down[stand-ins]",
        "tests/test_e.py::down[official]",
        "tests/test_new.py::never_timed",
        "tests/test_a.py::two",
    ]
    durations = {
        "tests/test_a.py::one": 1.0,
        "tests/test_a.py::two": 1.5,
        "tests/test_e.py::up[stand-ins]": 3.0,
        "tests/test_e.py::down[stand-ins]": 4.0,
        "tests/test_e.py::up[official]": 9.0,
    }
    items = cast(list[pytest.Item], [Item(nodeid) for nodeid in ids])
    assert [item.nodeid for item in longest_group_first(items, durations)] == [
        "tests/test_e.py::up[official]",
        "tests/test_e.py::down[official]",
        "tests/test_e.py::up[stand-ins]",
        "tests/test_e.py::down[stand-ins]",
        "tests/test_a.py::one",
        "tests/test_a.py::two",
        "tests/test_new.py::never_timed",
    ]


def test_stored_durations_add_a_tests_phases_and_keep_the_tests_not_run(tmp_path: Path) -> None:
    path = tmp_path / "durations.json"
    assert read_durations(path) == {}
    path.write_text(json.dumps({"tests/test_a.py::kept": 2.0, "tests/test_a.py::run": 9.0}))
    store_durations(
        [("tests/test_a.py::run", 0.25), ("tests/test_a.py::run", 1.0), ("tests/test_b.py::x", 3)],
        path,
    )
    assert read_durations(path) == {
        "tests/test_a.py::kept": 2.0,
        "tests/test_a.py::run": 1.2,
        "tests/test_b.py::x": 3.0,
    }
