"""Exceptions that say which operation failed, on which webhook, and what Shoprenter answered."""

from __future__ import annotations

from typing import Optional


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
