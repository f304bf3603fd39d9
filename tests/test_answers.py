"""Answers no API should give: named in one plain sentence, never shown, never a duplicate.

The simulator's faults ``page`` (a gateway's HTML page), ``empty-after`` and ``cut-after``
(the change was made, then the answer is empty or cut off) over real HTTP.
"""

from __future__ import annotations

import pytest

from provider.core.errors import AmbiguousOutcome
from provider.core.model import DeclaredWebhook
from provider.shoprenter.client import ShoprenterClient
from provider.shoprenter.ledger import WebhookLedger
from sandbox.simulator.control import SimulatorControl
from tests.helpers import ERP, oauth_settings

NOT_THE_API = "not an answer of the Shoprenter API"


def ledger_on(sim: SimulatorControl) -> WebhookLedger:
    return WebhookLedger(ShoprenterClient(oauth_settings(sim, timeout_seconds=5)))


@pytest.mark.parametrize("status", [200, 404, 400])
def test_a_page_instead_of_an_answer_is_named_never_shown(
    sim: SimulatorControl, status: int
) -> None:
    ledger = ledger_on(sim)
    made = ledger.create(ERP)
    # The PUT meets the page, and so does the read that looks afterwards.
    sim.fault("PUT", "/webHooks/*", mode="page", status=status)
    sim.fault("GET", "/webHooks/*", mode="page", status=status)
    with pytest.raises(AmbiguousOutcome) as caught:  # never NotFound: the page proves nothing
        ledger.update(made.id, ERP.model_copy(update={"enabled": False}))
    message = str(caught.value)
    assert message.startswith(f"update webhook ERP sync failed (HTTP {status} ")
    assert message.endswith(f"): an HTML page, {NOT_THE_API}")
    assert len(sim.webhooks()) == 1


def test_a_502_page_names_the_status_and_its_reason_phrase(sim: SimulatorControl) -> None:
    client = ShoprenterClient(oauth_settings(sim))
    sim.fault("POST", "/webHooks", mode="page", status=502)  # a POST is never retried here
    with pytest.raises(AmbiguousOutcome) as caught:
        client.post(ERP)
    assert str(caught.value) == (
        f"create webhook ERP sync failed (HTTP 502 Bad Gateway): an HTML page, {NOT_THE_API}"
    )


def test_a_proxys_404_page_on_a_refresh_keeps_the_webhook(sim: SimulatorControl) -> None:
    made = ledger_on(sim).create(ERP)
    sim.fault("GET", "/webHooks", mode="page", status=404)
    sim.fault("GET", "/webHooks/*", mode="page", status=404)
    with pytest.raises(AmbiguousOutcome):
        ledger_on(sim).shop.read(made.id)  # unclear: never "gone", which would make a second one


@pytest.mark.parametrize("mode", ["empty-after", "cut-after"])
def test_an_unreadable_success_to_a_post_ends_with_exactly_one_webhook(
    sim: SimulatorControl, mode: str
) -> None:
    sim.fault("POST", "/webHooks", mode=mode)
    made = ledger_on(sim).create(ERP)
    assert [hook["id"] for hook in sim.webhooks()] == [made.id]
    assert len(sim.api_calls("POST")) == 1  # looked for, found, not posted again
    assert made.state.same_webhook(ERP)


@pytest.mark.parametrize("mode", ["empty-after", "cut-after"])
def test_an_unreadable_success_to_a_put_is_read_back(sim: SimulatorControl, mode: str) -> None:
    ledger = ledger_on(sim)
    made = ledger.create(ERP)
    sim.fault("PUT", "/webHooks/*", mode=mode)
    disabled = ERP.model_copy(update={"enabled": False})
    updated = ledger.update(made.id, disabled)
    assert updated.state.same_webhook(disabled)
    assert len(sim.api_calls("PUT")) == 1
    assert sim.webhooks()[0]["status"] == "0"


def test_an_unreadable_answer_that_did_not_make_the_webhook_is_posted_again(
    sim: SimulatorControl,
) -> None:
    sim.fault("POST", "/webHooks", mode="page", status=200)  # nothing made behind the page
    made = ledger_on(sim).create(ERP)
    assert [hook["id"] for hook in sim.webhooks()] == [made.id]
    assert len(sim.api_calls("POST")) == 2


def test_an_unreadable_read_names_what_came(sim: SimulatorControl) -> None:
    client = ShoprenterClient(oauth_settings(sim))
    made = client.post(DeclaredWebhook.model_validate(ERP.model_dump()))
    sim.fault("GET", "/webHooks/*", mode="cut-after", count=10)
    with pytest.raises(AmbiguousOutcome) as caught:
        client.get(made.id)
    assert str(caught.value) == (
        f"read webhook {made.id} failed (HTTP 200 OK): a cut-off or malformed JSON answer, "
        f"{NOT_THE_API}"
    )
