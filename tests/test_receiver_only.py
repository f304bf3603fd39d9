"""A receiver-only service, as the docs install it: the wheel without its dependencies, plus
pydantic, defusedxml and python-multipart (no Pulumi SDK, no requests). The example Flask
receiver runs there and takes what ``trigger`` sends, refusing a wrong token and anything not a
delivery, and handing each order on once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from provider.deliveries.trigger import send
from sandbox.local_engine import ROOT
from tests.helpers import serving

# Builds the wheel and installs from PyPI (minutes, not seconds): one virtualenv per run.
pytestmark = pytest.mark.engine

EXAMPLE = ROOT / "examples" / "receiver" / "app.py"


@pytest.fixture(scope="module")
def receiver_venv(dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's receiver-only install, in a fresh virtualenv."""
    venv = tmp_path_factory.mktemp("receiver") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    for command in (
        [*pip, "--no-deps", "--find-links", str(dist), "shoprenter-webhooks"],
        [*pip, "pydantic", "defusedxml", "python-multipart", "flask"],
    ):
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    return venv


def test_the_receiver_module_needs_neither_pulumi_nor_requests(receiver_venv: Path) -> None:
    probe = (
        "import importlib.util as u, shoprenter_webhooks.receive as r; "
        "print([m for m in ('pulumi', 'requests') if u.find_spec(m)], r.parse.__name__)"
    )
    python = str(receiver_venv / "bin" / "python")
    done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[] parse"


@pytest.fixture
def example(receiver_venv: Path, tmp_path: Path) -> Iterator[str]:
    """The example app under Flask's own server on loopback; its orders URL."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    log = tmp_path / "flask.log"
    server = subprocess.Popen(
        [str(receiver_venv / "bin" / "flask"), "--app", str(EXAMPLE), "run", "--port", str(port)],
        env={
            **os.environ,
            "WEBHOOK_TOKENS": "new-token,old-token",
            "DELIVERY_STORE": str(tmp_path / "deliveries.sqlite3"),
        },
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        assert serving(port), (tmp_path / "flask.log").read_text()
        yield f"http://127.0.0.1:{port}/shoprenter/order_confirm"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_example_receiver_takes_a_delivery_and_refuses_the_rest(example: str) -> None:
    for token in ("new-token", "old-token"):  # a rotation: both accepted
        for format in ("json", "xml"):
            outcome = send(f"{example}?key={token}", "order_confirm", format)
            assert outcome.delivered, outcome.answer
    one = {"data": (None, '{"orders":{"order":[{"innerId":"77"}]}}')}
    answer = requests.post(f"{example}?key=new-token", files=one, timeout=10)
    assert answer.status_code == 200
    assert answer.json() == {"handled": ["order_confirm:77"], "duplicates": []}
    assert send(f"{example}?key=stale", "order_confirm").answer == "HTTP 403 Forbidden"
    junk = requests.post(f"{example}?key=new-token", data=b"hello", timeout=10)
    assert junk.status_code == 400 and "not a Shoprenter delivery" in junk.text


def test_the_example_receiver_answers_bombs_and_oversized_bodies_plainly(example: str) -> None:
    """What anyone who learns the URL can send: a 400 for a bomb, a 413 past the body limit,
    and the receiver still serves a delivery after them."""
    target = f"{example}?key=new-token"
    for bomb in ("[" * 100_000 + "]" * 100_000, '{"orders":{"order":[{"total":"1e999999999"}]}}'):
        answer = requests.post(target, files={"data": (None, bomb)}, timeout=10)
        assert answer.status_code == 400 and "not a Shoprenter delivery" in answer.text
    oversized = requests.post(target, data=b" " * (2 * 1024 * 1024), timeout=10)
    assert oversized.status_code == 413
    assert send(target, "order_confirm").delivered


def test_the_example_receiver_hands_each_order_on_once(example: str) -> None:
    """A copy of a delivery (a replay's, say) answers 200 and is not handed on again, in
    either format; a delivery that does not say which order it is about is refused."""
    target = f"{example}?key=new-token"
    first = requests.post(target, files={"data": (None, JSON_ORDER)}, timeout=10)
    copy = requests.post(target, files={"data": (None, XML_ORDER)}, timeout=10)
    assert first.json() == {"handled": ["order_confirm:91"], "duplicates": []}
    assert copy.status_code == 200
    assert copy.json() == {"handled": [], "duplicates": ["order_confirm:91"]}
    unkeyed = requests.post(
        target, files={"data": (None, '{"orders":{"order":[{"email":"a@b.hu"}]}}')}, timeout=10
    )
    assert unkeyed.status_code == 400 and "add order_innerId" in unkeyed.text


JSON_ORDER = '{"orders":{"order":[{"innerId":"91","email":"a@b.hu"}]}}'
XML_ORDER = "<orders><order><innerId>91</innerId><email>a@b.hu</email></order></orders>"
