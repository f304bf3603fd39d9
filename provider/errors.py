"""Exceptions that say which operation failed, on which webhook, and what Shoprenter answered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # only the type: importing requests stays out of the provider's start-up
    import requests


class ShoprenterError(Exception):
    """A call to the Shoprenter API failed.

    The message names the operation, the webhook (label or id), the HTTP status and the
    shop's own message. It never contains a credential.
    """

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
        code = f" (HTTP {status})" if status else ""
        super().__init__(f"{where} failed{code}: {message}")


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
    """The shop answered 429: the request was refused, not carried out."""

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        subject: Optional[str] = None,
        retry_after: Optional[float] = None,
    ) -> None:
        super().__init__(operation, message, subject=subject, status=429)
        self.retry_after = retry_after


class AmbiguousOutcome(ShoprenterError):
    """No clear answer came back (timeout, dropped connection, 5xx): the call may have worked."""


def error_message(response: requests.Response) -> str:
    """What an error answer says, with its inner code when there is one.

    Neither the API's nor the token endpoint's error body is documented beyond a message:
    the usual places are read, and anything else is shown as it came.
    """
    try:
        body: Any = response.json()
    except ValueError:
        return (response.text.strip()[:300] or response.reason or "no message").replace("\n", " ")
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
