"""The Pulumi dynamic provider for Shoprenter webhooks, and the ``Webhook`` resource using it.

Importing this module does nothing but define classes: the engine re-imports it in its
provider process (see :mod:`provider.shop_provider`). It loads the models
(:mod:`provider.core.model`, pydantic) only when a method needs them: an unchanged run's ``check``
and ``diff`` do not, and pydantic's import is most of what a provider process costs beyond the
SDK's own start-up (``make bench`` row 14).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from .core.bag import PROPERTY_KEYS, fold_shorthand, property_bag
from .core.declarations import CHECKED_KEY, checked_stamp
from .core.ownership import OWNER_KEY, describe_owner, is_foreign
from .shop_provider import ShopProvider, before_registration, contains_unknown, recorded_anew
from .shoprenter.lifeline import warn

if TYPE_CHECKING:
    from .core.model import WebhookState

OUTPUT_KEYS = ("webhookId", "href")


def same_bag(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """Whether two property bags hold the same values. Both canonical (checked inputs and
    outputs are), that is the same webhook; bags that differ are compared as models."""
    return all(olds.get(key) == news.get(key) for key in PROPERTY_KEYS)


class WebhookProvider(ShopProvider):
    """Maps check, diff, create, read, update and delete onto Shoprenter's ``/webHooks``."""

    # -- planning: no network call may happen here (preview runs these) -------------------

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the declaration, property by property, leaving computed values alone;
        inputs this release accepted under the same rules before are accepted as they are."""
        # Everything but outputs and the SDK's own keys: a stray key is reported, not dropped.
        props = {
            key: value
            for key, value in news.items()
            if key not in OUTPUT_KEYS and not key.startswith("__")
        }
        stamp = checked_stamp(self._rules)
        judged = olds.get(CHECKED_KEY) == stamp and set(props) <= set(PROPERTY_KEYS)
        if judged and same_bag(olds, props):  # by the same release and rules: valid again
            return CheckResult({**props, CHECKED_KEY: stamp}, [])
        from .core.model import validate_declaration  # noqa: PLC0415 (loaded when needed, see above)

        unknown = frozenset(key for key, value in props.items() if contains_unknown(value))
        declared, failures = validate_declaration(props, unknown, self._rules)
        inputs = {**declared.to_props(), CHECKED_KEY: stamp} if declared else _folded(props)
        return CheckResult(inputs, [CheckFailure(key, reason) for key, reason in failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Report the properties that really differ; every change is an in-place update."""
        re_recorded = recorded_anew(olds, news)
        if same_bag(olds, news) and not re_recorded:
            return DiffResult(changes=False, replaces=[], delete_before_replace=False)
        if any(contains_unknown(news.get(key)) for key in PROPERTY_KEYS):
            return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        from .core.model import WebhookState  # noqa: PLC0415 (loaded when needed, see above)

        old, new = WebhookState.from_props(olds), WebhookState.from_props(news)
        changed = old.changed_keys(new)
        if old.owner is None and new.owner:
            alone = ", nothing else" if changed == ["owner"] else ""
            warn(
                f"webhook {new.label!r} gains its owner marker [pulumi:{new.owner}]: one PUT of "
                f"its label{alone} (the marker was lost on the shop, or the state is from "
                "before owners were marked)"
            )
        if re_recorded and not changed:
            warn(
                f"webhook {new.label!r} is recorded anew under this package's name (a state "
                "written by another layout): no call to the shop"
            )
        changes = bool(changed) or re_recorded
        return DiffResult(changes=changes, replaces=[], delete_before_replace=False)

    # -- acting on the shop ---------------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        from .core.model import WebhookState  # noqa: PLC0415 (loaded when needed, see above)

        state = WebhookState.from_props(props)
        self._verify_targets(None, state)
        live = self._ledger().create(state, self._rules.take_over_from)
        return CreateResult(live.id, live.to_outputs(state.adopt_id))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh from the shop: drop the resource if gone, or if its marker now names
        another owner (released: never deleted by this stack), else report what is live.

        A label that lost this stack's marker (renamed in the admin, or only the bracket
        deleted) is still this stack's webhook: it is reported as it is, without an owner (and
        with its new text), which differs from the declaration, so ``up`` puts the marker back
        with one PUT; letting it go would make the next ``up`` create a second one.
        """
        live = self._ledger().shop.read(id_)
        if live is None:
            return ReadResult("", {})
        mine = props.get("owner")
        if is_foreign(live.state.owner, mine):
            warn(
                f"webhook {id_} ({live.state.label!r}) is released from this stack: its marker "
                f"says {describe_owner(live.state.owner, mine)} now. It stays on the shop"
            )
            return ReadResult("", {})
        if live.state.owner != mine:
            warn(
                f"webhook {id_} ({live.state.label!r}) lost its owner marker [pulumi:{mine}] "
                "(its label was edited on the shop): it stays this stack's, and `pulumi up` "
                "puts the declared label and the marker back"
            )
        outputs = live.to_outputs(props.get("adoptId"))
        inputs = {key: outputs[key] for key in PROPERTY_KEYS}
        return ReadResult(live.id, outputs, inputs=inputs)

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Overwrite the webhook; when the shop already has it as declared (only the record
        changes, see :func:`~provider.shop_provider.recorded_anew`), make no call."""
        from .core.model import LiveWebhook, WebhookState  # noqa: PLC0415 (see above)

        state, old = WebhookState.from_props(news), WebhookState.from_props(olds)
        if old.same_webhook(state):
            live = LiveWebhook(id=id_, href=str(olds.get("href") or ""), state=state)
        else:
            self._verify_targets(old, state)
            live = self._ledger().update(id_, state, self._rules.take_over_from)
        return UpdateResult(live.to_outputs(state.adopt_id))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._ledger().delete(id_, str(props.get("label") or id_), props.get("owner"))

    def _verify_targets(self, old: Optional[WebhookState], new: WebhookState) -> None:
        """With ``verifyTargets``: a test delivery to each target the write makes deliver
        anew, before anything is written (:mod:`provider.deliveries.trigger`, loaded only then)."""
        if not self._rules.verify_targets:
            return
        from .deliveries.builder import DEFAULT_TIMEOUT_SECONDS  # noqa: PLC0415
        from .deliveries.trigger import targets_to_verify, verify  # noqa: PLC0415

        verify(new, targets_to_verify(old, new), DEFAULT_TIMEOUT_SECONDS)


def _folded(props: dict[str, Any]) -> dict[str, Any]:
    """Inputs not (yet) judged, in the bag's shape: the shorthand as ``targets`` (left as
    written when both are set, which ``check`` reports)."""
    try:
        return fold_shorthand(props)
    except ValueError:
        return props


def stack_owner() -> str:
    """This stack's owner on the shop: the project's ``owner`` config key, else
    ``<project>/<stack>`` (in a program, where both names are known)."""
    configured = pulumi.Config().get(OWNER_KEY)
    return f"{pulumi.get_project()}/{pulumi.get_stack()}" if configured is None else configured


class Webhook(Resource, module="shoprenter", name="Webhook"):
    """One Shoprenter webhook, kept as declared by ``pulumi up``.

    Every property updates in place; nothing forces a replacement. Outputs: every input in
    canonical form (``targets`` by url, their ``fields`` sorted, the label without its owner
    marker), plus ``webhookId`` (Shoprenter's id) and ``href``.
    """

    webhookId: pulumi.Output[str]
    href: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        event: pulumi.Input[str],
        url: Optional[pulumi.Input[str]] = None,
        label: Optional[pulumi.Input[str]] = None,
        enabled: pulumi.Input[bool] = True,
        format: Optional[pulumi.Input[str]] = None,
        fields: Optional[pulumi.Input[list[pulumi.Input[str]]]] = None,
        targets: Optional[pulumi.Input[list[pulumi.Input[dict[str, Any]]]]] = None,
        delay: Optional[pulumi.Input[dict[str, Any]]] = None,
        adopt_id: Optional[pulumi.Input[str]] = None,
        owner: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        """Declare a webhook: its ``targets``, or one target by ``url``, ``format``, ``fields``.

        :param resource_name: the Pulumi resource name; also the label when none is given.
        :param event: ``order_confirm``, ``order_status_change``, ``abandoned_cart`` or a
            ``newsletter_subscribe``/``_unsubscribe``/``_update_subscriber`` event.
        :param url: the one target's URL: https (http to loopback); a secret if it has one.
        :param label: the name shown in the Shoprenter admin.
        :param enabled: whether Shoprenter delivers (status 1) or not (status 0).
        :param format: the one target's format, ``json`` (default) or ``xml``.
        :param fields: the one target's payload field names, of the event's table; none: all.
        :param targets: where it delivers, instead of ``url``/``format``/``fields``: a list of
            ``{"url": ..., "format": ..., "fields": [...]}``, a set keyed by url.
        :param delay: ``{"amount": n, "unit": "hour" | "day"}``, or ``None`` to send at once.
        :param adopt_id: the id of an existing webhook to take over instead of creating one.
        :param owner: who owns it on the shop (its label's marker); default: the stack's owner,
            ``shoprenter-webhooks:owner`` or ``<project>/<stack>`` (see :func:`stack_owner`).
        :raises ValueError: for ``targets`` beside the shorthand, naming the resource.
        """
        shorthand = {"url": url, "format": format, "fields": fields, "targets": targets}
        try:
            folded = fold_shorthand(shorthand)
        except ValueError as error:
            raise ValueError(f"Webhook {resource_name!r}: {error}") from None
        props = property_bag(
            event=event,
            label=resource_name if label is None else label,
            enabled=enabled,
            targets=folded.get("targets"),
            delay=delay,
            adopt_id=adopt_id,
            owner=stack_owner() if owner is None else owner,
        )
        before_registration()
        outputs = dict.fromkeys(OUTPUT_KEYS)  # computed by the provider
        super().__init__(WebhookProvider(), resource_name, {**props, **outputs}, opts)
