"""``fleet --shard K/N``: every shop in exactly one shard, and a shop's shard never moves."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provider import fleet

shop_names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)


@given(st.lists(shop_names, unique=True, max_size=60), st.integers(1, 300))
def test_each_shop_is_in_exactly_one_shard(shops: list[str], shards: int) -> None:
    slices = {k: [s for s in shops if fleet.shard_of(s, shards) == k] for k in range(1, shards + 1)}
    assert sorted(s for found in slices.values() for s in found) == sorted(shops)


@given(st.lists(shop_names, unique=True, min_size=1, max_size=40), shop_names, st.integers(1, 50))
def test_adding_a_shop_moves_no_other(shops: list[str], added: str, shards: int) -> None:
    before = {shop: fleet.shard_of(shop, shards) for shop in shops}
    after = {shop: fleet.shard_of(shop, shards) for shop in [*shops, added]}
    assert {shop: after[shop] for shop in shops} == before


def test_a_thousand_shops_over_twenty_shards_leaves_none_empty_or_crowded() -> None:
    sizes = Counter(fleet.shard_of(f"shop-{n}", 20) for n in range(1000))
    assert sorted(sizes) == list(range(1, 21))
    assert max(sizes.values()) < 2 * 1000 / 20  # a digest spreads them, within twice the mean


def test_the_shard_option_takes_k_of_n_and_says_what_it_expects() -> None:
    assert fleet.parse_args(["up", "--all", "--shard", "3/20"]).shard == (3, 20)
    for wrong in ("0/3", "4/3", "3", "a/b", "1/0"):
        with pytest.raises(argparse.ArgumentTypeError, match="K/N with 1 <= K <= N"):
            fleet.parse_shard(wrong)


def test_a_shard_runs_only_its_shops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for shop in ("shop-a", "shop-b", "shop-c", "shop-d"):
        (tmp_path / f"Pulumi.{shop}.yaml").write_text("config: {}\n", encoding="utf-8")
    ran: list[list[str]] = []

    def record(self: fleet.Fleet, operation: str, *_args: object) -> list[fleet.ShopRun]:
        ran.append(self.stacks)
        return []

    monkeypatch.setattr(fleet, "report_live", record)
    for k in (1, 2, 3):
        fleet.main(["preview", "--all", "--shard", f"{k}/3", "--project-dir", str(tmp_path)])
    assert sorted(s for stacks in ran for s in stacks) == ["shop-a", "shop-b", "shop-c", "shop-d"]
    assert all(fleet.shard_of(s, 3) == k for k, stacks in enumerate(ran, 1) for s in stacks)
