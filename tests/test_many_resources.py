"""No ceiling on the number of webhooks in one program (the SDK's pickler wrapping)."""

from __future__ import annotations

import pickle
from typing import Any

import pulumi
import pytest

from provider import Webhook
from provider.shop_provider import unwrap_pickler


class Mocks(pulumi.runtime.Mocks):
    """Pulumi's test mocks: every resource is created with its inputs as outputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


@pytest.fixture
def mocked() -> None:
    pulumi.runtime.set_mocks(Mocks(), preview=False)


@pytest.mark.usefixtures("mocked")
def test_two_thousand_webhooks_register_in_one_program() -> None:
    hooks = [
        Webhook(f"hook-{n}", event="order_confirm", url=f"https://hooks.example.com/{n}")
        for n in range(2000)
    ]
    assert len(hooks) == 2000
    # The SDK wrapped pickle's method once for the last registration, not 2,000 times.
    wrapped = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    assert wrapped.__module__ == "pulumi.dynamic.dynamic"
    unwrap_pickler()
    assert pickle._Pickler._batch_setitems.__module__ == "pickle"  # type: ignore[attr-defined]
