"""What an answer of the Shoprenter API means: the one place an HTTP answer becomes an error.

Beside the client and the auth that meet the answers (stripe's requestor keeps its mapping so).
An answer that is not the API's (a proxy's HTML page, an empty or cut-off body) is described,
never quoted (:func:`not_an_answer`): it may be a page of markup, and it may echo what was
sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

from ..core.errors import (
    AmbiguousOutcome,
    CredentialsRejected,
    NotFound,
    RateLimited,
    ShoprenterError,
)

if TYPE_CHECKING:  # only the type: importing requests stays out of the provider's start-up
    import requests

SCOPES_HINT = "the API client needs the scopes store.webhook:read and store.webhook:write"


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
