"""``trigger`` against a real receiver on loopback: Shoprenter's wire format, the fields, the
masking, and every way a target can fail, named in one line."""

from __future__ import annotations

import io
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from provider.core.model import WebhookState
from provider.deliveries.builder import TEST_HEADER, mask
from provider.deliveries.listen import Listener
from provider.deliveries.receive import parse
from provider.deliveries.trigger import (
    TargetUnready,
    proxy_for,
    send,
    targets_to_verify,
    verify,
)
from sandbox.simulator.receiver import Receiver
from tests.helpers import package_command

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


def trigger(*args: str) -> subprocess.CompletedProcess[str]:
    return package_command("trigger", *args)


def test_a_delivery_is_shoprenters_wire_format_marked_as_a_test(receiver: Receiver) -> None:
    outcome = send(f"{receiver.url}/hook?key=s3cret", "order_confirm", "json", ["order_email"])
    assert outcome.delivered and outcome.answer == "HTTP 200 OK"
    [got] = receiver.deliveries
    assert got.user_agent == "ShopRenter" and got.headers[TEST_HEADER] == "1"
    assert got.content_type.startswith("multipart/form-data; boundary=")
    assert got.path == "/hook?key=s3cret"  # the query string reaches the target as declared
    [order] = parse(got.body, got.content_type).orders or []
    assert order.email == "test-delivery@example.com" and order.firstname is None
    assert '"email":"test-delivery@example.com"' in got.data  # PHP's json_encode, no spaces


def test_the_simulator_delivers_the_same_request_without_the_test_header(
    receiver: Receiver,
) -> None:
    send(f"{receiver.url}/real", "newsletter_subscribe", "xml", test=False)
    [got] = receiver.deliveries
    assert TEST_HEADER not in got.headers
    assert got.data.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<newsletter>')


def test_a_url_is_shown_masked() -> None:
    assert mask("https://user:pw@erp.example.com:8443/sr?key=abc&shop=x") == (
        "https://***@erp.example.com:8443/sr?key=***&shop=***"
    )


def a_port_nobody_listens_on() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_each_failure_is_named_in_one_line(receiver: Receiver) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}/x"
        cases = {
            f"http://127.0.0.1:{a_port_nobody_listens_on()}/x": "connection refused",
            silent_url: "no answer within 0.5 s",
            f"{receiver.url}/answer/500/x": "HTTP 500 Internal Server Error",
            f"{receiver.url}/answer/302/x": (
                "HTTP 302 Found: a redirect to http://127.0.0.1:9/elsewhere?key=***"
            ),
            f"https://127.0.0.1:{receiver.port}/x": (
                "TLS failure (certificate or handshake refused)"
            ),
        }
        for url, answer in cases.items():
            outcome = send(url, "order_confirm", timeout=0.5)
            assert (outcome.delivered, outcome.answer) == (False, answer), url
    finally:
        silent.close()


def test_the_cli_prints_a_row_per_target_and_fails_unless_every_one_answered(
    receiver: Receiver,
) -> None:
    ok = trigger("order_confirm", "--url", f"{receiver.url}/hook?key=s3cret", "--format", "xml")
    assert ok.returncode == 0, ok.stderr
    assert "http://127.0.0.1" in ok.stdout and "?key=***" in ok.stdout and "s3cret" not in ok.stdout
    assert "HTTP 200 OK" in ok.stdout and "xml" in ok.stdout
    failed = trigger("order_confirm", "--url", f"{receiver.url}/answer/503/x")
    assert failed.returncode == 1 and "HTTP 503 Service Unavailable" in failed.stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["order_confirm", "--url", "http://erp.example.com/x"],
            "--url: the delivery URL must use",
        ),
        (
            ["order_confirm", "--url", "https://erp.example.com/x", "--fields", "order_mail"],
            "--fields: order_mail is not a documented payload field of order_confirm (did you "
            "mean 'order_email'?",
        ),
        (["--url", "https://erp.example.com/x"], "trigger --url needs the EVENT"),
        ([], "trigger needs --stack STACK"),
    ],
    ids=["plain-http", "unknown-field", "no-event", "nothing"],
)
def test_bad_arguments_are_named_before_anything_is_sent(args: list[str], said: str) -> None:
    done = trigger(*args)
    assert done.returncode == 1 and said in done.stderr, done.stderr


def state(*urls: str, enabled: bool = True) -> WebhookState:
    targets = [{"url": url, "format": "json"} for url in urls]
    return WebhookState.model_validate(
        {"event": "order_confirm", "label": "ERP", "targets": targets, "enabled": enabled}
    )


def test_the_go_live_check_picks_only_targets_a_write_makes_deliver_anew() -> None:
    old = state("https://a.example.com/1", "https://b.example.com/2")
    changed = state("https://a.example.com/1", "https://c.example.com/3")
    assert [t.url for t in targets_to_verify(None, old)] == [t.url for t in old.targets]
    assert [t.url for t in targets_to_verify(old, changed)] == ["https://c.example.com/3"]
    assert targets_to_verify(old, old) == []
    assert targets_to_verify(old, state("https://c.example.com/3", enabled=False)) == []
    assert len(targets_to_verify(state("https://a.example.com/1", enabled=False), old)) == 2


def test_a_target_that_does_not_answer_stops_the_write_naming_it(receiver: Receiver) -> None:
    dead = f"http://127.0.0.1:{a_port_nobody_listens_on()}/hook?key=s3cret"
    webhook = state(f"{receiver.url}/ok", dead)
    with pytest.raises(TargetUnready) as refused:
        verify(webhook, list(webhook.targets), timeout=2)
    message = str(refused.value)
    assert message.startswith("verify target of webhook ERP failed: http://127.0.0.1:")
    assert "/hook?key=*** answered a test delivery with connection refused" in message
    assert "s3cret" not in message and "nothing was written to the shop" in message


def test_listen_prints_each_delivery_parsed_and_refuses_the_rest() -> None:
    out = io.StringIO()
    with Listener("127.0.0.1", 0, out) as listener:
        serving = threading.Thread(target=listener.serve_forever, daemon=True)
        serving.start()
        try:
            sent = send(f"{listener.url}/in?key=s3cret", "newsletter_subscribe", "xml")
            junk = requests.post(f"{listener.url}/in", data=b"hello", timeout=10)
        finally:
            listener.shutdown()
    printed = out.getvalue()
    assert sent.delivered and junk.status_code == 400
    assert "POST /in?key=*** (test delivery): 1 subscriber(s): test-delivery@example.com" in printed
    assert '"subscribe_date": "2026-01-15T10:30:00"' in printed and "s3cret" not in printed
    assert "refused: the payload is neither JSON nor XML" in printed


def test_listen_serves_loopback_only() -> None:
    with pytest.raises(ValueError, match="listen serves loopback addresses only"):
        Listener("0.0.0.0", 0)


@pytest.mark.parametrize(
    ("variables", "url", "proxy"),
    [
        ({}, "https://erp.example.com/sr", None),
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128"},
            "https://erp.example.com/sr",
            "http://proxy.corp:3128",
        ),
        ({"HTTPS_PROXY": "http://proxy.corp:3128"}, "http://erp.example.com/sr", None),
        (
            {"HTTP_PROXY": "http://proxy.corp:3128"},
            "http://erp.example.com/sr",
            "http://proxy.corp:3128",
        ),
        (
            {"ALL_PROXY": "http://proxy.corp:3128"},
            "https://erp.example.com/sr",
            "http://proxy.corp:3128",
        ),
        (
            {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "example.com,localhost"},
            "https://erp.example.com/sr",
            None,
        ),
    ],
    ids=[
        "direct",
        "https-proxy",
        "https-proxy-not-for-http",
        "http-proxy",
        "all-proxy",
        "no-proxy",
    ],
)
def test_a_delivery_goes_through_the_proxy_the_environment_names(
    monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], url: str, proxy: str | None
) -> None:
    """As requests and curl read the environment: a CI runner behind a proxy still delivers."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        for spelled in (name, name.lower()):
            monkeypatch.delenv(spelled, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert proxy_for(url) == proxy
