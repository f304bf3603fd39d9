"""The provider pickled as the SDK pickles it, served by ``python -m pulumi.dynamic`` in a
subprocess and driven over gRPC the way the engine drives it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from provider import WebhookProvider
from provider.shoprenter import lifeline
from provider.shoprenter.settings import stack_config
from sandbox.simulator.control import SimulatorControl
from tests.helpers import DECLARED, simulator_config

ROOT = Path(__file__).resolve().parent.parent
URN = "urn:pulumi:test::shoprenter-webhooks::pulumi-python:dynamic/shoprenter:Webhook::erp"


def to_struct(values: dict[str, Any]) -> struct_pb2.Struct:
    return asyncio.run(rpc.serialize_properties(values, {}))


def from_struct(values: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(values))


class EngineSide:
    """What the engine does with a dynamic provider: start it, configure it, call it."""

    def __init__(self, stub: provider_pb2_grpc.ResourceProviderStub, pickled: str) -> None:
        self.stub = stub
        self.pickled = pickled

    def props(self, values: dict[str, Any]) -> struct_pb2.Struct:
        return to_struct({**values, "__provider": self.pickled})

    def check(self, news: dict[str, Any]) -> provider_pb2.CheckResponse:
        request = provider_pb2.CheckRequest(urn=URN, olds=to_struct({}), news=self.props(news))
        response: provider_pb2.CheckResponse = self.stub.Check(request)
        return response


@contextlib.contextmanager
def provider_process(
    config: dict[str, str], engine_address: Optional[str] = None
) -> Iterator[tuple[subprocess.Popen[str], EngineSide]]:
    """``python -m pulumi.dynamic`` as Pulumi's official plugin starts it (the engine's address
    last, when given), configured as the engine configures it."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            "-m",
            "pulumi.dynamic",
            *([engine_address] if engine_address else []),
        ],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = provider_pb2_grpc.ResourceProviderStub(channel)
            stub.Configure(provider_pb2.ConfigureRequest(args=to_struct(config)))
            yield process, EngineSide(stub, serialize_provider(WebhookProvider()))
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def engine(sim: SimulatorControl) -> Iterator[EngineSide]:
    with provider_process(simulator_config(sim)) as (_process, side):
        yield side


def test_the_whole_lifecycle_through_the_provider_process(
    engine: EngineSide, sim: SimulatorControl
) -> None:
    checked = engine.check(DECLARED)
    assert list(checked.failures) == []
    inputs = from_struct(checked.inputs)
    assert inputs["targets"][0]["fields"] == ["order_email", "order_innerId"]
    assert sim.requests() == []

    created = engine.stub.Create(
        provider_pb2.CreateRequest(urn=URN, properties=engine.props(inputs))
    )
    outputs = from_struct(created.properties)
    assert outputs["webhookId"] == created.id and len(sim.webhooks()) == 1

    same = engine.stub.Diff(
        provider_pb2.DiffRequest(
            id=created.id, urn=URN, olds=engine.props(outputs), news=engine.props(inputs)
        )
    )
    assert same.changes == provider_pb2.DiffResponse.DIFF_NONE

    sim.edit_webhook(created.id, status="0")
    read = engine.stub.Read(
        provider_pb2.ReadRequest(id=created.id, urn=URN, properties=engine.props(outputs))
    )
    assert from_struct(read.properties)["enabled"] is False
    assert from_struct(read.inputs)["enabled"] is False

    drifted = engine.stub.Diff(
        provider_pb2.DiffRequest(
            id=created.id, urn=URN, olds=read.properties, news=engine.props(inputs)
        )
    )
    assert drifted.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(drifted.replaces) == []

    updated = engine.stub.Update(
        provider_pb2.UpdateRequest(
            id=created.id, urn=URN, olds=read.properties, news=engine.props(inputs)
        )
    )
    assert from_struct(updated.properties)["enabled"] is True
    assert sim.webhooks()[0]["status"] == "1"

    engine.stub.Delete(
        provider_pb2.DeleteRequest(id=created.id, urn=URN, properties=updated.properties)
    )
    assert sim.webhooks() == []
    gone = engine.stub.Read(
        provider_pb2.ReadRequest(id=created.id, urn=URN, properties=updated.properties)
    )
    assert gone.id == ""


def test_check_failures_reach_the_engine_by_property(engine: EngineSide) -> None:
    response = engine.check({**DECLARED, "event": "order_paid", "format": "csv"})
    assert {failure.property for failure in response.failures} == {"event", "format"}


def test_provider_errors_reach_the_engine_with_the_shops_message(
    engine: EngineSide, sim: SimulatorControl
) -> None:
    sim.fault("PUT", "/webHooks/abc", status=400)
    with pytest.raises(grpc.RpcError) as caught:
        engine.stub.Update(
            provider_pb2.UpdateRequest(
                id="abc",
                urn=URN,
                olds=engine.props(DECLARED),
                news=engine.props({**DECLARED, "enabled": False}),  # a change: one PUT
            )
        )
    # One sentence, as the official plugin reports it too: no traceback above it.
    assert caught.value.details() == (
        "update webhook ERP sync failed (HTTP 400 Bad Request): injected fault"
    )
    assert "demo-secret" not in str(caught.value)


def test_the_provider_ends_with_the_engine_and_starts_no_waiting_call(
    sim: SimulatorControl,
) -> None:
    """Six creates at 2 requests/s: the engine goes after the first POST; the waiting calls
    are abandoned, and the process exits on its own."""
    config = stack_config(sim.connection(requestsPerSecond="2"))
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        provider_process(config, f"127.0.0.1:{listener.getsockname()[1]}") as (process, side),
    ):
        inputs = from_struct(side.check(DECLARED).inputs)
        creates = [
            side.stub.Create.future(
                provider_pb2.CreateRequest(
                    urn=URN,
                    properties=side.props(
                        {**inputs, "targets": [{"url": f"https://h.example.com/{n}"}]}
                    ),
                )
            )
            for n in range(6)
        ]
        deadline = time.monotonic() + 30
        while not sim.api_calls("POST") and time.monotonic() < deadline:
            time.sleep(0.05)
        listener.close()  # the engine is gone
        gone_at = time.time()
        assert process.wait(timeout=5) == lifeline.EXIT_ENGINE_GONE
    late = [call for call in sim.requests() if call["at"] > gone_at]
    assert len(late) <= 1, f"calls reached the shop after the engine was gone: {late}"
    assert len(sim.api_calls("POST")) == 1  # the next slot was 0.5 s later: never taken
    for future in creates:
        future.cancel()


def test_the_lifeline_never_starts_outside_the_providers_server(sim: SimulatorControl) -> None:
    """A test, a program or a REPL that configures a provider keeps its own process."""
    config = Config(raw_config=simulator_config(sim), project_name="shoprenter-webhooks")
    WebhookProvider().configure(ConfigureRequest(config))
    assert not [thread for thread in threading.enumerate() if thread.name == "lifeline"]
    left_alone = getattr(sys.modules["__main__"], "traceback", None)
    assert left_alone is None or left_alone is traceback
