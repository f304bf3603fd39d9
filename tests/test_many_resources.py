"""No ceiling on the number of webhooks in one program (the SDK's pickler wrapping)."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import Iterator
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
def mocked() -> Iterator[None]:
    """Pulumi's mocks, on an event loop of the test's own (an earlier asyncio.run left none)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    pulumi.runtime.set_mocks(Mocks(), preview=False)
    yield
    asyncio.set_event_loop(None)
    loop.close()


@pytest.mark.usefixtures("mocked")
@pulumi.runtime.test  # type: ignore[untyped-decorator]
def test_two_thousand_webhooks_register_in_one_program() -> pulumi.Output[None]:
    hooks = [
        Webhook(f"hook-{n}", event="order_confirm", url=f"https://hooks.example.com/{n}")
        for n in range(2000)
    ]

    def every_one_registered(urns: list[str]) -> None:
        assert len(set(urns)) == 2000
        # The SDK wrapped pickle's method once for the last registration, not 2,000 times.
        wrapped = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
        assert wrapped.__module__ == "pulumi.dynamic.dynamic"
        unwrap_pickler()
        assert pickle._Pickler._batch_setitems.__module__ == "pickle"  # type: ignore[attr-defined]

    return pulumi.Output.all(*[hook.urn for hook in hooks]).apply(every_one_registered)
