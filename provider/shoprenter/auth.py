"""Authentication for the Shoprenter API: OAuth 2 client credentials, or legacy HTTP Basic.

Shoprenter issues no refresh token: a client asks for a new access token when the old one
is about to expire. One token serves every thread of the process, so a ``pulumi up`` that
touches thirty webhooks asks for one token, not thirty. Like ``requests``' digest auth, the
OAuth auth handles its own 401: it renews the token once and sends the request again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Optional

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from ..core.errors import ShoprenterError
from .answers import error_for
from .pacing import Pacer
from .settings import ConnectionSettings

# Renew this long before the announced expiry, so a token never dies in flight.
RENEW_MARGIN_SECONDS = 60.0
TOKEN_OPERATION = "get an OAuth access token"
# The token endpoint answers a wrong client with 401, a malformed one with 400.
TOKEN_REFUSALS = (400, 401, 403)


class OAuthClientCredentials(AuthBase):
    """A ``requests`` auth that attaches a Bearer token, fetching and renewing it as needed."""

    def __init__(
        self,
        settings: ConnectionSettings,
        session: requests.Session,
        pacer: Pacer,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert settings.token_url, "OAuth needs a token URL"
        self._settings = settings
        self._session = session
        self._pacer = pacer
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Optional[str] = None
        self._expires_at = 0.0

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.current_token()}"
        request.register_hook("response", self._renew_on_401)  # type: ignore[no-untyped-call]
        return request

    def current_token(self) -> str:
        """The valid token, fetched once and shared until it nears its expiry."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at:
                self._token, self._expires_at = self._fetch()
            return self._token

    def _renew_on_401(self, response: requests.Response, **send_options: Any) -> requests.Response:
        """After a 401, renew the token (unless another thread did) and send once more.

        The repeated request waits for a pacer slot like any other: the shop counts it.
        """
        refused = response.request
        if response.status_code != 401 or refused is None:
            return response
        with self._lock:
            if refused.headers.get("Authorization") == f"Bearer {self._token}":
                self._token = None
        again = refused.copy()
        again.hooks["response"] = []  # once: a second 401 is a real refusal
        again.headers["Authorization"] = f"Bearer {self.current_token()}"
        _ = response.content  # read to the end, so the connection can carry the next request
        response.close()
        self._pacer.wait()
        renewed: requests.Response = response.connection.send(again, **send_options)
        renewed.history.append(response)
        return renewed

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
        if not response.ok:
            raise error_for(
                response,
                TOKEN_OPERATION,
                credential_keys=settings.credential_keys,
                credential_statuses=TOKEN_REFUSALS,
            )
        return self._read_token(response)

    def _read_token(self, response: requests.Response) -> tuple[str, float]:
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


def make_auth(settings: ConnectionSettings, session: requests.Session, pacer: Pacer) -> AuthBase:
    """The auth the settings ask for."""
    if settings.auth == "oauth":
        return OAuthClientCredentials(settings, session, pacer)
    return HTTPBasicAuth(settings.client_id, settings.secret)
