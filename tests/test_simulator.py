"""The simulator answers as Shoprenter's API is documented to, quirks and errors included."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
import requests

from sandbox.simulator.control import SimulatorControl
from sandbox.simulator.limits import make_limiter
from sandbox.simulator.shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, encode_id
from tests.helpers import api_body


def token(sim: SimulatorControl) -> str:
    answer = requests.post(
        sim.token_url,
        json={
            "grant_type": "client_credentials",
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
        },
        timeout=10,
    ).json()
    assert answer["token_type"] == "Bearer" and answer["expires_in"] == 3600
    return str(answer["access_token"])


def call(sim: SimulatorControl, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token(sim)}", **kwargs.pop("headers", {})}
    return requests.request(method, f"{sim.api_url}{path}", headers=headers, timeout=10, **kwargs)


JSON = {"Accept": "application/json"}


def test_ids_are_base64_and_answers_use_the_documented_quirks(sim: SimulatorControl) -> None:
    created = call(sim, "POST", "/webHooks", json=api_body(), headers=JSON)
    assert created.status_code == 201
    body = created.json()
    assert body["id"] == encode_id(1) == "d2ViSG9vay1ub3RpZmljYXRpb25faWQ9MQ=="
    assert body["status"] == "1"
    assert isinstance(body["webHookParameters"], dict)  # one related object, not a list
    assert body["webHookParameters"]["webHook"] == {"href": body["href"]}
    assert body["webHookDelay"] == []


def test_answers_are_xml_unless_json_is_accepted(sim: SimulatorControl) -> None:
    sim.add_webhook(api_body())
    answer = call(sim, "GET", "/webHooks", params={"full": 1})
    assert answer.headers["Content-Type"].startswith("application/xml")
    root = ElementTree.fromstring(answer.content)
    assert root.findtext("items/label") == "ERP"


def test_bodies_need_a_json_content_type(sim: SimulatorControl) -> None:
    answer = call(sim, "POST", "/webHooks", data=b"{}", headers=JSON)
    assert answer.status_code == 400 and answer.json()["code"] == 40001


def test_bad_bodies_get_inner_codes(sim: SimulatorControl) -> None:
    missing = call(sim, "POST", "/webHooks", json={"event": "order_confirm"}, headers=JSON)
    assert (missing.status_code, missing.json()["code"]) == (400, 40003)
    wrong = call(sim, "POST", "/webHooks", json=api_body(event="order_paid"), headers=JSON)
    assert (wrong.status_code, wrong.json()["code"]) == (400, 40005)
    absent = call(sim, "GET", "/webHooks/nope", headers=JSON)
    assert (absent.status_code, absent.json()["code"]) == (404, 40401)


def test_pages_have_links_and_a_page_past_the_end_is_40008(sim: SimulatorControl) -> None:
    for number in range(3):
        sim.add_webhook(api_body(label=str(number)))
    first = call(sim, "GET", "/webHooks", params={"limit": 2}, headers=JSON).json()
    assert first["page"] == "0" and first["pageCount"] == "2"
    assert first["items"][0] == {"href": f"{sim.api_url}/webHooks/{encode_id(1)}"}
    assert first["next"]["href"].endswith("page=1&limit=2") and first["previous"] is None
    past = call(sim, "GET", "/webHooks", params={"page": 5}, headers=JSON)
    assert (past.status_code, past.json()["code"]) == (400, 40008)


def test_more_than_three_requests_a_second_get_429(sim: SimulatorControl) -> None:
    sim.settings(rateLimit=3)
    bearer = token(sim)
    statuses = [
        requests.get(
            f"{sim.api_url}/webHooks", headers={"Authorization": f"Bearer {bearer}"}, timeout=10
        ).status_code
        for _ in range(6)
    ]
    assert statuses[:3] == [200, 200, 200]
    assert 429 in statuses[3:]


def test_requests_without_valid_credentials_get_401(sim: SimulatorControl) -> None:
    answer = requests.get(f"{sim.api_url}/webHooks", headers=JSON, timeout=10)
    assert answer.status_code == 401
    wrong = requests.post(
        sim.token_url,
        json={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"},
        timeout=10,
    )
    assert wrong.status_code == 401 and "invalid_client" in wrong.json()["message"]


def test_the_documented_command_serves_until_stopped() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox.simulator", "--port", "0", "--rate-limit", "0"],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().split()[-1]
        control = SimulatorControl(url)
        assert control.settings()["rateLimit"] is None
        assert requests.get(f"{url}/api/webHooks", timeout=10).status_code == 401
    finally:
        process.terminate()
    assert process.wait(timeout=10) == 0


def test_the_limiters_count_as_their_names_say() -> None:
    bucket = make_limiter("token-bucket", 3, now=0.0)
    assert [bucket.admit(0.0) for _ in range(4)] == [True, True, True, False]
    assert bucket.admit(0.34)  # a third of a second refills one token
    window = make_limiter("sliding-window", 3, now=0.0)
    assert all(window.admit(at) for at in (0.0, 0.34, 0.68))
    assert not window.admit(0.99)  # four arrivals within one second
    assert window.admit(1.01)
    fixed = make_limiter("fixed-window", 3, now=0.0)
    assert all(fixed.admit(at) for at in (0.7, 0.8, 0.9))
    assert not fixed.admit(0.95)
    assert fixed.admit(1.0)  # a new calendar second
    with pytest.raises(ValueError, match="limiter must be one of"):
        make_limiter("leaky", 3, now=0.0)


def test_an_unknown_limiter_is_refused(sim: SimulatorControl) -> None:
    with pytest.raises(requests.HTTPError, match=r"^400 Client Error"):
        sim.settings(limiter="leaky")


def test_a_delayed_answer_goes_out_when_the_delays_end(sim: SimulatorControl) -> None:
    """A test holds a call (``delay``) until what it waits for has happened, not for a fixed
    time a loaded machine may outlast; a reset frees whatever the last test left held."""
    for release in (sim.end_delays, sim.reset):
        sim.reset()  # an empty log: the held call is the only one
        sim.fault("POST", "/webHooks", mode="delay", seconds=60)
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(call, sim, "POST", "/webHooks", json=api_body(), headers=JSON)
            deadline = time.monotonic() + 10
            while not sim.api_calls("POST") and time.monotonic() < deadline:
                time.sleep(0.05)  # logged when handled, before the delay
            assert not held.done()
            release()
            assert held.result(timeout=10).status_code == 201
