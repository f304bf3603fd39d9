"""The engine's floor: a stack of the simplest dynamic resources Pulumi's Python SDK can have.

``make bench`` row 14 measures an unchanged ``up`` and ``preview`` of the webhook stack
against the same commands on this stack, side by side: same CLI, same backend, as many
resources, inputs of the same shape and size. Its provider does no I/O and returns its inputs,
and it takes every SDK default, so whatever the webhook stack costs beyond it is ours.

The bench copies this file into a project as ``floor.py`` (top-level, importable by the
program and by the engine's provider process) and runs ``from floor import main; main()``,
which declares ``floor:count`` resources. It imports nothing of this repository.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, Resource, ResourceProvider


class EchoProvider(ResourceProvider):
    """Creates nothing anywhere: the id is the resource's label, the outputs its inputs."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(str(props["label"]), {**props, "href": f"floor:{props['label']}"})


class Echo(Resource, module="floor", name="Echo"):
    """One resource with a webhook's inputs (see :func:`webhook_inputs`)."""

    webhookId: pulumi.Output[str]
    href: pulumi.Output[str]

    def __init__(self, name: str, inputs: dict[str, Any]) -> None:
        super().__init__(EchoProvider(), name, {**inputs, "webhookId": None, "href": None})


def webhook_inputs(number: int, owner: str) -> dict[str, Any]:
    """What the program gives the engine for bench webhook ``number``, in its shape."""
    return {
        "event": "order_confirm",
        "label": f"hook-{number:03}",
        "enabled": True,
        "targets": [
            {
                "url": f"https://hooks.example.com/{number}",
                "format": "json",
                "fields": ["order_innerId"],
            }
        ],
        "delay": None,
        "adoptId": None,
        "owner": owner,
    }


def main() -> None:
    """Declare ``floor:count`` resources and export their ids, as the webhook program does."""
    count = int(pulumi.Config().get("count") or 0)
    owner = f"{pulumi.get_project()}/{pulumi.get_stack()}"
    names = [f"hook-{n:03}" for n in range(count)]
    resources = {name: Echo(name, webhook_inputs(n, owner)) for n, name in enumerate(names)}
    pulumi.export("webhookIds", {name: echo.webhookId for name, echo in resources.items()})
    pulumi.export("hrefs", {name: echo.href for name, echo in resources.items()})
