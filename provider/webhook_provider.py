"""The Pulumi dynamic provider for Shoprenter webhooks, and the ``Webhook`` resource using it.

The engine pickles a :class:`WebhookProvider` into every resource's state and re-imports
this module in its provider process, so importing it does nothing but define classes, and
the pickled object carries no settings, client or credential: those are resolved in the
provider process (``configure``) from the stack config and the environment.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional, TypeVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import Unknown

from .errors import SettingsError, ShoprenterError
from .model import PROPERTY_KEYS, WebhookState, property_bag, validate_declaration
from .settings import ConnectionSettings

if TYPE_CHECKING:
    from .ledger import WebhookLedger

OUTPUT_KEYS = ("webhookId", "href")
Method = TypeVar("Method", bound=Callable[..., Any])


def _plainly_reported(method: Method) -> Method:
    """Let a failure reach the engine as its message, not a ten-frame traceback.

    The SDK reports a provider's exception with ``traceback.format_exc()``. The errors this
    package raises already say what failed, where and why; dropping the frames below the
    provider method leaves that sentence as the last, and nearly only, line a person reads.
    """

    @functools.wraps(method)
    def reported(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (ShoprenterError, SettingsError) as error:
            raise error.with_traceback(None) from None

    return reported  # type: ignore[return-value]


class WebhookProvider(ResourceProvider):
    """Maps check, diff, create, read, update and delete onto Shoprenter's ``/webHooks``."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: Optional[ConnectionSettings] = None

    def __getstate__(self) -> dict[str, Any]:
        """Pickle nothing resolved at run time: settings hold credentials."""
        return {key: value for key, value in self.__dict__.items() if key != "_settings"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._settings = None

    @_plainly_reported
    def configure(self, req: ConfigureRequest) -> None:
        """Resolve the connection settings once per provider process, from config then env."""
        self._settings = ConnectionSettings.resolve(req.config.get, os.environ)

    # -- planning: no network call may happen here (preview runs these) -------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the declaration, property by property, leaving computed values alone."""
        # Everything but outputs and the SDK's own keys: a stray key is reported, not dropped.
        props = {
            key: value
            for key, value in news.items()
            if key not in OUTPUT_KEYS and not key.startswith("__")
        }
        unknown = frozenset(key for key, value in props.items() if _contains_unknown(value))
        declared, failures = validate_declaration(props, unknown)
        inputs = declared.to_props() if declared else props
        return CheckResult(inputs, [CheckFailure(key, reason) for key, reason in failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Report the properties that really differ; every change is an in-place update."""
        if any(_contains_unknown(news.get(key)) for key in PROPERTY_KEYS):
            return DiffResult(changes=True, replaces=[], delete_before_replace=False)
        changed = WebhookState.from_props(olds).changed_keys(WebhookState.from_props(news))
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    # -- acting on the shop ---------------------------------------------------------------

    @_plainly_reported
    def create(self, props: dict[str, Any]) -> CreateResult:
        state = WebhookState.from_props(props)
        live = self._ledger().create(state)
        return CreateResult(live.id, live.to_outputs(state.adopt_id))

    @_plainly_reported
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh from the shop: drop the resource if gone, else report what is live."""
        live = self._ledger().read(id_)
        if live is None:
            return ReadResult("", {})
        outputs = live.to_outputs(props.get("adoptId"))
        inputs = {key: outputs[key] for key in PROPERTY_KEYS}
        return ReadResult(live.id, outputs, inputs=inputs)

    @_plainly_reported
    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        state = WebhookState.from_props(news)
        return UpdateResult(self._ledger().update(id_, state).to_outputs(state.adopt_id))

    @_plainly_reported
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._ledger().delete(id_, str(props.get("label") or id_))

    def _ledger(self) -> WebhookLedger:
        """The process's ledger (and client) for the configured shop.

        The HTTP stack is imported here, not at module level: ``preview`` only checks and
        diffs, and each provider process it starts is spared loading requests and urllib3.
        """
        from .ledger import ledger_for  # noqa: PLC0415 (deferred on purpose, see above)

        if self._settings is None:
            # Engines before configure() existed: the environment is all there is.
            self._settings = ConnectionSettings.resolve(lambda _key: None, os.environ)
        return ledger_for(self._settings)


def _contains_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_contains_unknown(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(_contains_unknown(item) for item in value)
    return False


class Webhook(Resource, module="shoprenter", name="Webhook"):
    """One Shoprenter webhook, kept as declared by ``pulumi up``.

    Every property updates in place; nothing forces a replacement. Outputs: every input in
    canonical form (``fields`` sorted), plus ``webhookId`` (Shoprenter's id) and ``href``.
    """

    webhookId: pulumi.Output[str]
    href: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        event: pulumi.Input[str],
        url: pulumi.Input[str],
        label: Optional[pulumi.Input[str]] = None,
        enabled: pulumi.Input[bool] = True,
        format: pulumi.Input[str] = "json",
        fields: Optional[pulumi.Input[list[pulumi.Input[str]]]] = None,
        delay: Optional[pulumi.Input[dict[str, Any]]] = None,
        adopt_id: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        """Declare a webhook.

        :param resource_name: the Pulumi resource name; also the label when none is given.
        :param event: ``order_confirm``, ``order_status_change``, ``abandoned_cart`` or a
            ``newsletter_subscribe``/``_unsubscribe``/``_update_subscriber`` event.
        :param url: where Shoprenter delivers: an absolute https URL (http only to loopback).
            A secret in the URL is the documented way to protect a target: pass a secret.
        :param label: the name shown in the Shoprenter admin.
        :param enabled: whether Shoprenter delivers (status 1) or not (status 0).
        :param format: ``json`` or ``xml``.
        :param fields: payload field names to send, of the event's table; none sends all.
        :param delay: ``{"amount": n, "unit": "hour" | "day"}``, or ``None`` to send at once.
        :param adopt_id: the id of an existing webhook to take over instead of creating one.
        """
        props = property_bag(
            event=event,
            url=url,
            label=resource_name if label is None else label,
            enabled=enabled,
            format=format,
            fields=fields,
            delay=delay,
            adopt_id=adopt_id,
        )
        outputs = dict.fromkeys(OUTPUT_KEYS)  # computed by the provider
        super().__init__(WebhookProvider(), resource_name, {**props, **outputs}, opts)
