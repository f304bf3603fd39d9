"""What this package's dynamic providers share: run-time settings kept off the pickle, the
ledger, and the provider process's lifeline to the engine.

The engine pickles a provider into every resource's state and re-imports its module in its
provider process, so the pickled object carries no settings, rules, client or credential:
``configure`` resolves them there from the stack config and the environment.
"""

from __future__ import annotations

import os
import pickle
import threading
from typing import TYPE_CHECKING, Any, Optional

from pulumi.dynamic import ConfigureRequest, ResourceProvider
from pulumi.output import Unknown

from .core.errors import SettingsError
from .core.rules import NO_RULES, Rules
from .shoprenter.lifeline import hold_on
from .shoprenter.settings import ConnectionSettings

if TYPE_CHECKING:
    from .shoprenter.ledger import WebhookLedger

# pickle's pure-Python pickler method as it was when this package was imported. The SDK's
# serialize_provider wraps it around the previous wrapper on every registration and never
# restores it: each dynamic resource added a stack frame to every later pickle (quadratic
# cost, RecursionError after about 1,000 resources in one program).
_BATCH_SETITEMS = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
# Attributes resolved in the provider process; never pickled into state.
RUN_TIME_ATTRIBUTES = ("_settings", "_rules")
# Where the SDK keeps each resource's pickled provider, in its inputs and its outputs.
PROVIDER_KEY = "__provider"


class ShopProvider(ResourceProvider):
    """A provider that reaches one shop, with the stack's declaration rules."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: Optional[ConnectionSettings] = None
        self._rules: Rules = NO_RULES

    def __getstate__(self) -> dict[str, Any]:
        """Pickle nothing resolved at run time: settings hold credentials."""
        return {k: v for k, v in self.__dict__.items() if k not in RUN_TIME_ATTRIBUTES}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._settings, self._rules = None, NO_RULES

    def configure(self, req: ConfigureRequest) -> None:
        """Resolve the connection settings (config, then environment) and the rules, once.

        The engine calls this before any other method of a provider it unpickled: the place
        to start the process's lifeline (:func:`provider.shoprenter.lifeline.hold_on`), lazily.
        """
        hold_on()
        _serve_command(req.config)
        self._settings = ConnectionSettings.resolve(req.config.get, os.environ)
        try:
            self._rules = Rules.from_config(req.config.get)
        except ValueError as error:
            raise SettingsError(f"stack config {error}") from None

    def _ledger(self) -> WebhookLedger:
        """The process's ledger (and client) for the configured shop.

        The HTTP stack is imported here, not at module level: ``preview`` only checks and
        diffs, and each provider process it starts is spared loading requests and urllib3.
        """
        from .shoprenter.ledger import forget_ledgers, ledger_for  # noqa: PLC0415 (deferred, see above)

        if _NEW_COMMAND.is_set():
            _NEW_COMMAND.clear()
            forget_ledgers()
        if self._settings is None:
            # Engines before configure() existed: the environment is all there is.
            self._settings = ConnectionSettings.resolve(lambda _key: None, os.environ)
        return ledger_for(self._settings)


# The configuration of the engine command this process serves (the engine's one Configure
# call, which every provider it unpickles is configured with), and whether a new one came.
_served: list[object] = []
_NEW_COMMAND = threading.Event()
_SERVING = threading.Lock()


def _serve_command(config: object) -> None:
    """Note the engine command a provider is configured for. A process that goes on to serve
    another (a long-lived host) drops its ledgers at the next call to the shop: one listing,
    one set of claims, serves one command. The engine starts a provider process per command,
    so there this never fires."""
    raw = getattr(config, "_props", None)  # the SDK's one dict per Configure call
    if raw is None:
        return
    with _SERVING:
        if _served and _served[0] is raw:
            return
        _served[:] = [raw]
    _NEW_COMMAND.set()


def unwrap_pickler() -> None:
    """Put back the pickler method the SDK wraps again at every registration (see above).

    Call it right before a dynamic resource registers: the SDK then wraps the original once.
    """
    pickle._Pickler._batch_setitems = _BATCH_SETITEMS  # type: ignore[attr-defined]


def before_registration() -> None:
    """What each dynamic resource of this package does right before it registers.

    It puts back the pickler the SDK wraps (no ceiling on the number of resources), and, in
    a program that Pulumi's official language host started, starts the lifeline that ends
    that host with the engine (:func:`provider.shoprenter.lifeline.hold_on`; once per process).
    """
    unwrap_pickler()
    hold_on()


def recorded_anew(olds: dict[str, Any], news: dict[str, Any]) -> bool:
    """Whether the state records a resource's provider otherwise than this program pickles it.

    A refresh or a delete unpickles the provider the state recorded, by its module's name. A
    stack made by this project's repository records ``provider.*``; run from the package it
    must record ``shoprenter_webhooks.*`` before a refresh or a delete can work. The pickle of
    a provider is the same from run to run, so a difference means the name (or the pickler)
    changed: an update then records it anew, with no call to the shop when nothing else did.
    """
    old, new = olds.get(PROVIDER_KEY), news.get(PROVIDER_KEY)
    return isinstance(old, str) and isinstance(new, str) and old != new


def contains_unknown(value: Any) -> bool:
    """Whether a value holds anything Pulumi will only know after other resources exist."""
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(contains_unknown(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(contains_unknown(item) for item in value)
    return False
