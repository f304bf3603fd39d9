"""Authentication for the Shoprenter API: OAuth 2 client credentials, or legacy HTTP Basic.

Shoprenter issues no refresh token: a client asks for a new access token when the old one
is about to expire. One token serves every thread of the process, so a ``pulumi up`` that
touches thirty webhooks asks for one token, not thirty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Optional

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from .errors import CredentialsRejected, ShoprenterError, error_message
from .settings import ConnectionSettings

# Renew this long before the announced expiry, so a token never dies in flight.
RENEW_MARGIN_SECONDS = 60.0
TOKEN_OPERATION = "get an OAuth access token"


class OAuthClientCredentials(AuthBase):
    """A ``requests`` auth that attaches a Bearer token, fetching and renewing it as needed."""

    def __init__(
        self,
        settings: ConnectionSettings,
        session: requests.Session,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert settings.token_url, "OAuth needs a token URL"
        self._settings = settings
        self._session = session
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._expires_at = 0.0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.current_token()}"
        return request

    def current_token(self) -> str:
        """The valid token, fetched once and shared until it nears its expiry."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                self._token, self._expires_at = self._fetch()
            return self._token

    def refused(self, request: requests.PreparedRequest) -> None:
        """Forget the token ``request`` carried after a 401, unless another thread renewed it."""
        with self._lock:
            if request.headers.get("Authorization") == f"Bearer {self._token}":
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        settings = self._settings
        body = {
            "grant_type": "client_credentials",
            "client_id": settings.client_id,
            "client_secret": settings.secret,
        }
        try:
            response = self._session.post(
                settings.token_url or "",
                json=body,
                headers={"Accept": "application/json"},
                timeout=settings.timeout_seconds,
            )
        except requests.RequestException as error:
            raise ShoprenterError(
                TOKEN_OPERATION, f"{settings.token_url} did not answer: {type(error).__name__}"
            ) from None
        if response.status_code in (400, 401, 403):
            raise CredentialsRejected(
                TOKEN_OPERATION,
                settings.credential_keys,
                error_message(response),
                response.status_code,
            )
        if not response.ok:
            raise ShoprenterError(
                TOKEN_OPERATION, error_message(response), status=response.status_code
            )
        try:
            answer = response.json()
            token = str(answer["access_token"])
            lifetime = float(answer.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise ShoprenterError(
                TOKEN_OPERATION, "the token endpoint's answer holds no access_token"
            ) from None
        renew_in = max(lifetime - RENEW_MARGIN_SECONDS, lifetime / 2)
        return token, self._clock() + renew_in


def make_auth(settings: ConnectionSettings, session: requests.Session) -> AuthBase:
    """The auth the settings ask for."""
    if settings.auth == "oauth":
        return OAuthClientCredentials(settings, session)
    return HTTPBasicAuth(settings.client_id, settings.secret)
