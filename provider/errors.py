"""Every error this package raises, and the one place that turns an HTTP answer into one.

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
contains a credential. An answer that is not the API's (a proxy's HTML page, an empty or
cut-off body) is described, never quoted (:func:`not_an_answer`): it may be a page of markup,
and it may echo what was sent. ``report_plainly`` tells a plugin host that the message alone is the
whole report, with no traceback.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # only the type: importing requests stays out of the provider's start-up
    import requests

SCOPES_HINT = "the API client needs the scopes store.webhook:read and store.webhook:write"


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
    """The webhook carries another owner's marker (see :mod:`provider.ownership`): not taken
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
    """The engine that started this provider process is gone (see :mod:`provider.lifeline`).

    Raised instead of starting a call: nobody would record what it made.
    """


def error_for(
    response: requests.Response,
    operation: str,
    *,
    subject: Optional[str] = None,
    credential_keys: Optional[str] = None,
    credential_statuses: tuple[int, ...] = (401,),
) -> ShoprenterError:
    """The error an unsuccessful answer means.

    ``credential_keys`` names the settings to check when a status in ``credential_statuses``
    means the credentials themselves are wrong (Basic sign-in, the token endpoint). Without
    it, a 401 or 403 came after a fresh token was accepted: the API client lacks a scope.
    Any refusal whose body is not the API's (a proxy's page) is an unclear outcome: a 404
    of that kind is no proof that a webhook is gone.
    """
    status = response.status_code
    message = error_message(response)
    if credential_keys and status in credential_statuses:
        return CredentialsRejected(operation, credential_keys, message, status)
    if status in (401, 403):
        return ShoprenterError(
            operation, f"{message} ({SCOPES_HINT})", subject=subject, status=status
        )
    if status == 429:
        limited = RateLimited(operation, message, subject=subject, status=status)
        limited.retry_after = _seconds(response.headers.get("Retry-After"))
        return limited
    # A body that is not the API's came from something in between (a proxy's page): whether
    # the request reached the shop is unknown, and a 404 of that kind proves nothing gone.
    foreign = bool(response.content.strip()) and not_an_answer(response) is not None
    if status == 404 and not foreign:
        return NotFound(operation, message, subject=subject, status=status)
    if status >= 500 or foreign:
        return AmbiguousOutcome(operation, message, subject=subject, status=status)
    return ShoprenterError(operation, message, subject=subject, status=status)


def error_message(response: requests.Response) -> str:
    """What an error answer says, with its inner code when there is one.

    Neither the API's nor the token endpoint's error body is documented beyond a message:
    the usual places are read, and anything else is shown as it came, unless it is no
    answer of the API at all (:func:`not_an_answer`).
    """
    if not response.content.strip():
        return "no message"
    instead = not_an_answer(response)
    if instead:
        return instead
    body: Any = response.json()
    if isinstance(body, dict) and set(body) == {"response"}:
        body = body["response"]
    if not isinstance(body, dict):
        return str(body)[:300]
    error = body.get("error")
    nested = error if isinstance(error, dict) else {}
    kind = error if isinstance(error, str) else None
    message = body.get("message") or nested.get("message") or body.get("error_description")
    text = ": ".join(str(part) for part in (kind, message) if part) or str(body)[:300]
    code = body.get("code") or nested.get("code")
    return f"{text} (code {code})" if code else text


def not_an_answer(response: requests.Response) -> Optional[str]:
    """What came instead of an answer of the Shoprenter API (a JSON document), for a
    message; ``None`` when the body is one. The body itself is never quoted."""
    body = response.content.strip()
    kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if not body:
        what = "an empty answer"
    elif "html" in kind or body[:100].lower().startswith((b"<!doctype html", b"<html")):
        what = "an HTML page"
    else:
        try:
            response.json()
        except ValueError:
            what = "a cut-off or malformed JSON answer" if "json" in kind else _typed(kind)
        else:
            return None
    return f"{what}, not an answer of the Shoprenter API"


def _typed(kind: str) -> str:
    return f"an answer of type {kind}" if kind else "an answer of no stated type"


def _seconds(header: Optional[str]) -> Optional[float]:
    """A ``Retry-After`` header in seconds; the HTTP-date form is rare enough to ignore."""
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None
