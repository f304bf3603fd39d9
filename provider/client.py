"""The HTTP client for Shoprenter's ``/webHooks`` resource.

One client per shop and process (:func:`client_for`), shared by the engine's worker
threads: one session, one OAuth token, one pacer. Safe retries (GET, PUT, DELETE, and
connection failures before anything was sent) are left to urllib3's ``Retry``; a POST is
never repeated blindly: after an unclear outcome the client looks for the webhook it was
creating before it tries again, and it never creates a webhook identical (event, url,
label) to one the shop already has.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from typing import Any, Optional
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .auth import OAuthClientCredentials, make_auth
from .errors import (
    AmbiguousOutcome,
    CredentialsRejected,
    NotFound,
    RateLimited,
    ShoprenterError,
    error_message,
)
from .model import LiveWebhook, WebhookState
from .pacing import Pacer
from .settings import ConnectionSettings

PAGE_LIMIT = 200
CREATE_ATTEMPTS = 4
RETRY_STATUSES = (429, 502, 503, 504)
HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


class PacedRetry(Retry):
    """urllib3's ``Retry``, which also waits for a pacer slot before every retry it sends.

    urllib3 retries below ``requests``, out of the client's sight; without this hook a
    retry could jump the queue and break the shop's rate limit.
    """

    pacer: Optional[Pacer] = None

    def new(self, **kwargs: Any) -> PacedRetry:
        retry = super().new(**kwargs)
        retry.pacer = self.pacer
        return retry

    def sleep(self, response: Any = None) -> None:
        super().sleep(response)
        if self.pacer is not None:
            self.pacer.wait()


def build_session(pacer: Pacer) -> requests.Session:
    """A session whose safe requests are retried with capped, jittered exponential backoff."""
    retry = PacedRetry(
        total=6,
        connect=4,
        read=3,
        status=5,
        other=0,
        allowed_methods=frozenset({"GET", "PUT", "DELETE"}),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=0.5,
        backoff_max=20,
        backoff_jitter=0.5,
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    retry.pacer = pacer
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=8)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(HEADERS)
    return session


class ShoprenterClient:
    """Create, read, update, delete and list the webhooks of one shop."""

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._base = settings.api_url + "/webHooks"
        self._pacer = Pacer(settings.requests_per_second)
        self._session = build_session(self._pacer)
        self._auth = make_auth(settings, self._session)
        self._lock = threading.Lock()
        # Webhooks seen on the shop, read once per process and kept current by our own
        # writes: the duplicate check of N creates costs one collection read, not N.
        self._known: Optional[dict[str, LiveWebhook]] = None
        self._listing = threading.Lock()
        # Ids handed to a resource by this process: two resources never share one webhook.
        self._claimed: set[str] = set()
        # Ids of existing webhooks taken over in this process: never deleted by it.
        self._taken_over: set[str] = set()

    # -- the operations ------------------------------------------------------------------

    def get(self, webhook_id: str) -> Optional[LiveWebhook]:
        """The webhook with this id, or ``None`` when the shop no longer has it."""
        try:
            answer = self._call("GET", self._item_url(webhook_id), "read webhook", webhook_id)
        except NotFound:
            return None
        return self._parse(answer, "read webhook", webhook_id)

    def list(self) -> list[LiveWebhook]:
        """Every webhook of the shop, following ``next`` links page by page."""
        found: list[LiveWebhook] = []
        url: Optional[str] = self._base
        params: Optional[dict[str, Any]] = {"full": 1, "limit": PAGE_LIMIT, "page": 0}
        while url:
            page = self._call("GET", url, "list webhooks", params=params)
            for item in page.get("items") or []:
                whole = item
                if set(item) <= {"href"}:  # a link only: the shop ignored full=1
                    whole = self._call("GET", self._same_api(item["href"]), "read webhook")
                live = self._parse_listed(whole)
                if live is not None:
                    found.append(live)
            url = _next_link(page)
            params = None
            if url:
                url = self._same_api(url)
        with self._lock:
            self._known = {live.id: live for live in found}
        return found

    def create(self, state: WebhookState) -> LiveWebhook:
        """Make the shop have this webhook, adopting an identical one instead of duplicating it."""
        if state.adopt_id:
            return self._adopt(state.adopt_id, state)
        twin = self._find_twin(state, fresh=False)
        if twin is not None:
            return self._take_over(twin, state)
        last_error: Optional[ShoprenterError] = None
        for attempt in range(CREATE_ATTEMPTS):
            try:
                return self._claim(self._post(state))
            except RateLimited as error:
                last_error = error
                time.sleep(error.retry_after or _backoff(attempt))
            except AmbiguousOutcome as error:
                last_error = error
                twin = self._find_twin(state, fresh=True)
                if twin is not None:
                    return self._take_over(twin, state)
                time.sleep(_backoff(attempt))
        assert last_error is not None
        raise last_error

    def update(self, webhook_id: str, state: WebhookState) -> LiveWebhook:
        """Overwrite the webhook with ``state`` (PUT replaces parameters and delay whole)."""
        try:
            answer = self._call(
                "PUT",
                self._item_url(webhook_id),
                "update webhook",
                state.label,
                body=state.to_api_body(),
            )
        except NotFound as error:
            raise NotFound(
                "update webhook",
                f"{webhook_id} is no longer on the shop; run `pulumi refresh` to forget it "
                "and `pulumi up` to create it again",
                subject=state.label,
                status=error.status,
            ) from None
        return self._remember(self._parse(answer, "update webhook", state.label))

    def delete(self, webhook_id: str, label: str) -> None:
        """Remove the webhook; one that is already gone counts as removed.

        A webhook that another resource took over in this same run (a resource renamed
        without an alias is created anew, adopting its twin, before the old one is
        deleted) now belongs to that resource and is left in place.
        """
        with self._lock:
            if webhook_id in self._taken_over:
                return
        with contextlib.suppress(NotFound):
            self._call("DELETE", self._item_url(webhook_id), "delete webhook", label)
        with self._lock:
            if self._known is not None:
                self._known.pop(webhook_id, None)
            self._claimed.discard(webhook_id)

    # -- create's helpers ----------------------------------------------------------------

    def _post(self, state: WebhookState) -> LiveWebhook:
        answer = self._call(
            "POST", self._base, "create webhook", state.label, body=state.to_api_body()
        )
        return self._remember(self._parse(answer, "create webhook", state.label))

    def _adopt(self, webhook_id: str, state: WebhookState) -> LiveWebhook:
        live = self.get(webhook_id)
        if live is None:
            raise NotFound(
                "adopt webhook",
                f"adoptId {webhook_id!r} names no webhook on the shop",
                subject=state.label,
                status=404,
            )
        return self._take_over(live, state)

    def _take_over(self, live: LiveWebhook, state: WebhookState) -> LiveWebhook:
        """Claim an existing webhook (before touching it), then make it match ``state``."""
        self._claim(live)
        try:
            if not live.state.same_webhook(state):
                live = self.update(live.id, state)
        except ShoprenterError:
            with self._lock:
                self._claimed.discard(live.id)
            raise
        with self._lock:
            self._taken_over.add(live.id)
        return live

    def _claim(self, live: LiveWebhook) -> LiveWebhook:
        with self._lock:
            if live.id in self._claimed:
                raise ShoprenterError(
                    "create webhook",
                    f"webhook {live.id} is already managed by another resource of this stack; "
                    "two resources declare the same event, url and label",
                    subject=live.state.label,
                )
            self._claimed.add(live.id)
        return live

    def _find_twin(self, state: WebhookState, *, fresh: bool) -> Optional[LiveWebhook]:
        if fresh:
            self.list()
        else:
            with self._listing:  # the engine's threads create at once: list only once
                with self._lock:
                    loaded = self._known is not None
                if not loaded:
                    self.list()
        with self._lock:
            for live in (self._known or {}).values():
                if live.state.identity() == state.identity() and live.id not in self._claimed:
                    return live
        return None

    def _remember(self, live: LiveWebhook) -> LiveWebhook:
        with self._lock:
            if self._known is not None:
                self._known[live.id] = live
        return live

    # -- HTTP ----------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        url: str,
        operation: str,
        subject: Optional[str] = None,
        *,
        body: Optional[dict[str, Any]] = None,
        params: Optional[dict[str, Any]] = None,
    ) -> dict[str, Any]:
        """Send one request (renewing the token once on a 401) and return its JSON answer."""
        for renewed in (False, True):
            self._pacer.wait()
            try:
                response = self._session.request(
                    method,
                    url,
                    json=body,
                    params=params,
                    auth=self._auth,
                    timeout=(10, self.settings.timeout_seconds),
                )
            except requests.RequestException as error:
                raise AmbiguousOutcome(
                    operation,
                    f"no answer from {self.settings.api_url} ({type(error).__name__})",
                    subject=subject,
                ) from None
            if (
                response.status_code == 401
                and not renewed
                and isinstance(self._auth, OAuthClientCredentials)
            ):
                self._auth.refused(response.request)
                continue
            return self._answer(response, operation, subject)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(
        self, response: requests.Response, operation: str, subject: Optional[str]
    ) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            if status == 204 or not response.content:
                return {}
            try:
                return _unwrap(_json(response, operation, subject))
            except ValueError as error:
                raise ShoprenterError(operation, str(error), subject=subject) from None
        message = error_message(response)
        if status == 401:
            if self.settings.auth == "basic":
                raise CredentialsRejected(operation, self.settings.credential_keys, message, status)
            raise ShoprenterError(
                operation,
                f"{message} (the API client needs the scopes store.webhook:read and "
                "store.webhook:write)",
                subject=subject,
                status=status,
            )
        if status == 403:
            raise ShoprenterError(
                operation,
                f"{message} (forbidden: give the API client the scopes store.webhook:read "
                "and store.webhook:write)",
                subject=subject,
                status=status,
            )
        if status == 404:
            raise NotFound(operation, message, subject=subject, status=status)
        if status == 429:
            raise RateLimited(
                operation,
                message,
                subject=subject,
                retry_after=_retry_after(response.headers.get("Retry-After")),
            )
        if status >= 500:
            raise AmbiguousOutcome(operation, message, subject=subject, status=status)
        raise ShoprenterError(operation, message, subject=subject, status=status)

    def _item_url(self, webhook_id: str) -> str:
        return f"{self._base}/{quote(webhook_id, safe='=')}"

    def _same_api(self, link: str) -> str:
        """Follow a link only to the configured API, so the token is never sent elsewhere."""
        ours, theirs = urlsplit(self.settings.api_url), urlsplit(link)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise ShoprenterError(
                "list webhooks", f"the shop linked to {link!r}, outside {self.settings.api_url}"
            )
        return link

    @staticmethod
    def _parse(answer: dict[str, Any], operation: str, subject: Optional[str]) -> LiveWebhook:
        try:
            return LiveWebhook.from_api(answer)
        except (ValueError, KeyError, TypeError) as error:
            raise ShoprenterError(
                operation, f"could not understand the shop's answer: {error}", subject=subject
            ) from None

    @staticmethod
    def _parse_listed(item: dict[str, Any]) -> Optional[LiveWebhook]:
        """A listed webhook, or ``None`` for one this tool cannot describe (never ours)."""
        try:
            return LiveWebhook.from_api(item)
        except (ValueError, KeyError, TypeError):
            return None


_CLIENTS: dict[ConnectionSettings, ShoprenterClient] = {}
_CLIENTS_LOCK = threading.Lock()


def client_for(settings: ConnectionSettings) -> ShoprenterClient:
    """The process's one client for these settings, so threads share its token and pacer."""
    with _CLIENTS_LOCK:
        client = _CLIENTS.get(settings)
        if client is None:
            client = _CLIENTS[settings] = ShoprenterClient(settings)
        return client


def _backoff(attempt: int) -> float:
    return float(min(20.0, 0.5 * 2**attempt) * random.uniform(0.5, 1.0))


def _retry_after(header: Optional[str]) -> Optional[float]:
    try:
        return max(0.0, float(header)) if header else None
    except ValueError:
        return None


def _json(response: requests.Response, operation: str, subject: Optional[str]) -> Any:
    try:
        return response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "unknown")
        raise ShoprenterError(
            operation,
            f"expected a JSON answer, got {kind}",
            subject=subject,
            status=response.status_code,
        ) from None


def _unwrap(answer: Any) -> dict[str, Any]:
    """Some answers wrap the payload in ``{"response": …}``."""
    if isinstance(answer, dict) and set(answer) == {"response"}:
        answer = answer["response"]
    if not isinstance(answer, dict):
        raise ValueError(f"expected a JSON object, got {type(answer).__name__}")
    return answer


def _next_link(page: dict[str, Any]) -> Optional[str]:
    link = page.get("next")
    if isinstance(link, dict) and link.get("href"):
        return str(link["href"])
    return None
