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

from .errors import ShoprenterError
from .model import PROPERTY_KEYS, WebhookState, validate_declaration
from .settings import ConnectionSettings, SettingsError

if TYPE_CHECKING:
    from .client import ShoprenterClient

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
        changed = _state(olds).changed_keys(_state(news))
        return DiffResult(changes=bool(changed), replaces=[], delete_before_replace=False)

    # -- acting on the shop ---------------------------------------------------------------

    @_plainly_reported
    def create(self, props: dict[str, Any]) -> CreateResult:
        state = _state(props)
        live = self._client().create(state)
        return CreateResult(live.id, live.to_outputs(state.adopt_id))

    @_plainly_reported
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh from the shop: drop the resource if gone, else report what is live."""
        live = self._client().get(id_)
        if live is None:
            return ReadResult("", {})
        outputs = live.to_outputs(props.get("adoptId"))
        inputs = {key: outputs[key] for key in PROPERTY_KEYS}
        return ReadResult(live.id, outputs, inputs=inputs)

    @_plainly_reported
    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        state = _state(news)
        return UpdateResult(self._client().update(id_, state).to_outputs(state.adopt_id))

    @_plainly_reported
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self._client().delete(id_, str(props.get("label") or id_))

    def _client(self) -> ShoprenterClient:
        """The process's client for the configured shop.

        The HTTP stack is imported here, not at module level: ``preview`` only checks and
        diffs, and each provider process it starts is spared loading requests and urllib3.
        """
        from .client import client_for  # noqa: PLC0415 (deferred on purpose, see above)

        if self._settings is None:
            # Engines before configure() existed: the environment is all there is.
            self._settings = ConnectionSettings.resolve(lambda _key: None, os.environ)
        return client_for(self._settings)


def _state(props: dict[str, Any]) -> WebhookState:
    """The canonical value of a stored or checked property bag (outputs carry extra keys)."""
    return WebhookState.model_validate({key: props.get(key) for key in PROPERTY_KEYS})


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
        :param event: one of ``order_confirm``, ``order_status_change``, ``newsletter_subscribe``,
            ``newsletter_unsubscribe``, ``newsletter_update_subscriber``, ``abandoned_cart``.
        :param url: where Shoprenter delivers: an absolute https URL (http only to loopback).
            A secret in the URL is the documented way to protect a target: pass a secret.
        :param label: the name shown in the Shoprenter admin.
        :param enabled: whether Shoprenter delivers (status 1) or not (status 0).
        :param format: ``json`` or ``xml``.
        :param fields: payload field names to send (``order...`` or ``subscriber_...`` by
            event); empty or ``None`` sends all. Order does not matter.
        :param delay: ``{"amount": n, "unit": "hour" | "day"}``, or ``None`` to send at once.
        :param adopt_id: the id of an existing webhook to take over instead of creating one
            (``pulumi import`` does not work with dynamic providers).
        """
        props: dict[str, Any] = {
            "event": event,
            "url": url,
            "label": resource_name if label is None else label,
            "enabled": enabled,
            "format": format,
            "fields": fields if fields is not None else [],
            "delay": delay,
            "adoptId": adopt_id,
            "webhookId": None,
            "href": None,
        }
        super().__init__(WebhookProvider(), resource_name, props, opts)
