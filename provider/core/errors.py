"""Every error this package raises (the HTTP answer -> error mapping is
:mod:`provider.shoprenter.answers`, beside the client that meets the answers).

The hierarchy::

    ShoprenterError            a call to the Shoprenter API failed (operation, webhook, status)
    ├── CredentialsRejected    the shop or its token endpoint refused the configured credentials
    ├── NotFound               the webhook is not (or no longer) on the shop
    ├── RateLimited            429: refused, not carried out; may say when to come back
    ├── AmbiguousOutcome       no clear answer (timeout, dropped connection, 5xx, a 2xx whose
    │                          body is not the API's): may have worked
    └── OwnedElsewhere         the webhook is marked as another owner's: not taken over
    SettingsError              the connection settings are missing or wrong (a ValueError)
    DeclarationError           the declared webhooks are wrong, listed entry by entry (a ValueError)
    EngineGone                 the engine that started this process is gone: no call is started

Every message says what failed and why, names the settings or entries to check, and never
contains a credential. ``report_plainly`` tells a plugin host that the message alone is the
whole report, with no traceback.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Optional


class ShoprenterError(Exception):
    """A call to the Shoprenter API failed.

    The message names the operation, the webhook (label or id), the HTTP status and the
    shop's own message.
    """

    report_plainly = True

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        subject: Optional[str] = None,
        status: Optional[int] = None,
    ) -> None:
        self.operation = operation
        self.subject = subject
        self.status = status
        self.detail = message
        where = f"{operation} {subject}" if subject else operation
        code = f" (HTTP {status_text(status)})" if status else ""
        super().__init__(f"{where} failed{code}: {message}")


def status_text(status: int) -> str:
    """A status with its reason phrase, ``502 Bad Gateway``, as HTTP defines it (a proxy's
    own phrase may say anything)."""
    try:
        return f"{status} {HTTPStatus(status).phrase}"
    except ValueError:
        return str(status)


class CredentialsRejected(ShoprenterError):
    """The shop or its token endpoint refused the configured credentials."""

    def __init__(self, operation: str, keys: str, said: str, status: int) -> None:
        super().__init__(
            operation,
            f"Shoprenter rejected the credentials; check {keys}. It said: {said}",
            status=status,
        )


class NotFound(ShoprenterError):
    """The webhook does not exist (any more) on the shop."""


class RateLimited(ShoprenterError):
    """The shop answered 429: the request was refused, not carried out.

    ``retry_after`` is the wait the shop asked for, in seconds, when it said one.
    """

    retry_after: Optional[float] = None


class AmbiguousOutcome(ShoprenterError):
    """No clear answer came back (timeout, dropped connection, 5xx): the call may have worked."""


class OwnedElsewhere(ShoprenterError):
    """The webhook carries another owner's marker (see :mod:`provider.core.ownership`): not taken
    over, or (``in_state``: marked so since this stack last read it) not overwritten.

    Raised before anything is written, with what to do about it.
    """

    def __init__(
        self,
        webhook_id: str,
        label: str,
        owner: str,
        mine: Optional[str],
        *,
        in_state: bool = False,
    ) -> None:
        whose = f"webhook {webhook_id} ({label!r}) is"
        if in_state:
            operation, message = (
                "update webhook",
                f"{whose} marked as another stack's, {owner}, since this stack ({mine}) last "
                "read it, so it is left alone. `pulumi refresh` releases it from this stack's "
                "state (deleting nothing); if the marker was set by mistake, put "
                f"[pulumi:{mine}] back at the end of its label in the admin",
            )
        else:
            operation, message = (
                "take over webhook",
                f"{whose} managed by another stack, {owner}; this stack ({mine}) leaves it "
                f"alone. To move it here on purpose, first drop it from {owner}'s state without "
                f"deleting it (`pulumi state delete URN` there), then set "
                f"shoprenter-webhooks:takeOverFrom: [{owner}] here. If {owner} keeps it in its "
                "state, its next refresh releases it (deleting nothing); an update there "
                "before that refresh is refused",
            )
        super().__init__(operation, message, subject=label)


class SettingsError(ValueError):
    """The connection settings are missing or wrong; the message names the keys to set."""

    report_plainly = True


class DeclarationError(ValueError):
    """The declared webhooks are wrong; the message lists every problem, entry by entry."""


class EngineGone(Exception):
    """The engine that started this provider process is gone (see
    :mod:`provider.shoprenter.lifeline`).

    Raised instead of starting a call: nobody would record what it made.
    """
