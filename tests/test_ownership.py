"""The owner's marker: what an owner may be, how a label carries it, what a stack may take."""

from __future__ import annotations

import pytest

from provider.core.model import LiveWebhook
from provider.core.ownership import describe_owner, mark, owner_problem, split
from provider.core.rules import Rules
from provider.shoprenter.client import ShoprenterClient
from sandbox.simulator import Simulator, SimulatorControl
from sandbox.simulator.seed import seed
from tests.helpers import ERP, api_body, oauth_settings


def test_a_marked_label_reads_back_as_the_declared_label_and_its_owner() -> None:
    assert mark("ERP sync", "agency/prod") == "ERP sync [pulumi:agency/prod]"
    assert split("ERP sync [pulumi:agency/prod]") == ("ERP sync", "agency/prod")
    assert split("ERP sync") == ("ERP sync", None)
    assert split("ERP [pulumi:not an owner]") == ("ERP [pulumi:not an owner]", None)


def test_the_api_body_carries_the_marker_and_the_answer_gives_it_back() -> None:
    owned = ERP.model_copy(update={"owner": "agency/prod"})
    body = owned.to_api_body()
    assert body["label"] == "ERP sync [pulumi:agency/prod]"
    live = LiveWebhook.from_api({**body, "id": "abc", "href": "h"})
    assert live.state.label == "ERP sync" and live.state.owner == "agency/prod"
    assert live.state.same_webhook(owned)
    assert not live.state.same_webhook(ERP)  # unmarked: taking it over marks it (one PUT)


@pytest.mark.parametrize(
    ("owner", "problem"),
    [
        ("agency/prod", None),
        ("shoprenter-webhooks/my.stack_2", None),
        ("", "must be a non-empty name"),
        ("two words", "cannot be told apart from a label"),
        ("x]", "cannot be told apart from a label"),
        ("a" * 101, "cannot be told apart from a label"),
        (None, "must be a non-empty name"),
    ],
)
def test_an_owner_is_one_word_that_a_label_cannot_be_mistaken_for(
    owner: object, problem: str | None
) -> None:
    found = owner_problem(owner)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_take_over_from_names_owners_and_refuses_anything_else() -> None:
    rules = Rules.from_config({"takeOverFrom": '["team-b/prod"]'}.get)
    assert rules.take_over_from == {"team-b/prod"}
    with pytest.raises(ValueError, match=r"takeOverFrom\[1\]: 'no way' cannot be told apart"):
        Rules.from_config({"takeOverFrom": ["team-b/prod", "no way"]}.get)


def test_owners_are_described_for_a_person() -> None:
    assert describe_owner(None, "me/prod") == "unowned"
    assert describe_owner("me/prod", "me/prod") == "this stack's (me/prod), not in its state"
    assert describe_owner("team-b/prod", "me/prod") == "another stack: team-b/prod"


def test_a_webhook_from_the_admin_has_no_owner() -> None:
    live = LiveWebhook.from_api({**api_body(label="hand made"), "id": "x", "href": "h"})
    assert live.state.owner is None


def test_the_shared_seed_holds_webhooks_of_several_owners_read_over_http() -> None:
    with Simulator() as simulator:
        control = SimulatorControl(simulator.url)
        control.reset(rateLimit=None)  # no limit: the test is about owners, not pace
        seed(simulator.shop, "shared")
        listing = ShoprenterClient(oauth_settings(control)).list()
    owners = {live.state.owner for live in listing.webhooks}
    assert owners == {None, "marketing/prod", "agency/staging"}
    assert listing.unmanageable == []
    [fan_out] = [live for live in listing.webhooks if live.state.label == "Partner fan-out"]
    assert len(fan_out.state.targets) == 2
