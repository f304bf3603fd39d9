"""The provider pickled as the SDK pickles it, served by ``python -m pulumi.dynamic`` in a
subprocess and driven over gRPC the way the engine drives it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from provider import WebhookProvider
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


@pytest.fixture
def engine(sim: SimulatorControl) -> Iterator[EngineSide]:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
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
            stub.Configure(provider_pb2.ConfigureRequest(args=to_struct(simulator_config(sim))))
            yield EngineSide(stub, serialize_provider(WebhookProvider()))
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_whole_lifecycle_through_the_provider_process(
    engine: EngineSide, sim: SimulatorControl
) -> None:
    checked = engine.check(DECLARED)
    assert list(checked.failures) == []
    inputs = from_struct(checked.inputs)
    assert inputs["fields"] == ["order_email", "order_innerId"]
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
                id="abc", urn=URN, olds=engine.props(DECLARED), news=engine.props(DECLARED)
            )
        )
    assert "update webhook ERP sync failed (HTTP 400): injected fault" in str(caught.value)
    assert "demo-secret" not in str(caught.value)
