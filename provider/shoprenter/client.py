"""The HTTP transport for Shoprenter's ``/webHooks`` resource: one call, one answer.

A :class:`ShoprenterClient` owns the session, the auth, the pacer, the retries, the mapping
of statuses to errors (:func:`provider.core.errors.error_for`) and pagination. Safe retries (GET,
PUT, DELETE, and connection failures before anything was sent) are left to urllib3's
``Retry``, paced like every other request. A POST is never repeated here: deciding what to do
after an unclear outcome is the ledger's job (:mod:`provider.shoprenter.ledger`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Optional
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..core.errors import AmbiguousOutcome, NotFound, RateLimited, ShoprenterError
from ..core.model import LiveWebhook, Unmanageable, WebhookState, read_listed
from .answers import error_for, not_an_answer
from .auth import make_auth
from .lifeline import pause
from .pacing import Pacer
from .settings import ConnectionSettings

PAGE_LIMIT = 200
# Retried for GET, PUT and DELETE, as HashiCorp's retrying client does: every 5xx but 501.
RETRY_STATUSES = (429, 500, 502, 503, 504)
HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}
# One page of a collection's items, each a JSON object.
Page = list[dict[str, Any]]


class PacedRetry(Retry):
    """urllib3's ``Retry``, which also waits for a pacer slot before every retry it sends.

    urllib3 retries below ``requests``, out of the client's sight; without this hook a
    retry could jump the queue and break the shop's rate limit. A 429 slows the shared pacer
    down instead of sleeping here, so every thread, not just this one, gives the shop room.
    """

    pacer: Optional[Pacer] = None

    def new(self, **kwargs: Any) -> PacedRetry:
        retry = super().new(**kwargs)
        retry.pacer = self.pacer
        return retry

    def sleep(self, response: Any = None) -> None:
        if self.pacer is None:
            super().sleep(response)
            return
        if response is not None and response.status == 429:
            self.pacer.refused(self.get_retry_after(response))
        else:  # urllib3's own wait, cut short when the engine is gone
            retry_after = self.get_retry_after(response) if response is not None else None
            pause(retry_after or self.get_backoff_time())
        self.pacer.wait()


class LifelineAdapter(HTTPAdapter):
    """requests' adapter, which looks at the engine once more right before a request goes out
    (the pacer looked when the slot came; a thread may be held up between the two)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
        pause(0)
        return super().send(request, *args, **kwargs)


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
    adapter = LifelineAdapter(max_retries=retry, pool_maxsize=8)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(HEADERS)
    return session


@dataclass
class Listing:
    """What a listing of the shop found: the webhooks, and those no declaration can describe."""

    webhooks: list[LiveWebhook] = field(default_factory=list)
    unmanageable: list[Unmanageable] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.webhooks) + len(self.unmanageable)

    def add(self, found: LiveWebhook | Unmanageable) -> None:
        if isinstance(found, LiveWebhook):
            self.webhooks.append(found)
        else:
            self.unmanageable.append(found)


class ShoprenterClient:
    """Read, create, overwrite, delete and list the webhooks of one shop: one call each.

    Whether a webhook should be created or an existing one taken over is not decided here
    (see :mod:`provider.shoprenter.ledger`); this class only talks to the shop.
    """

    def __init__(self, settings: ConnectionSettings) -> None:
        self.settings = settings
        self._base = settings.api_url + "/webHooks"
        self._pacer = Pacer(settings.requests_per_second)
        self._session = build_session(self._pacer)
        self._auth = make_auth(settings, self._session, self._pacer)
        # With Basic sign-in a 401 means wrong credentials; with OAuth (after the auth renewed
        # the token) it means a missing scope.
        self._credential_keys = settings.credential_keys if settings.auth == "basic" else None

    def get(self, webhook_id: str) -> Optional[LiveWebhook]:
        """The webhook with this id, or ``None`` when the shop no longer has it."""
        try:
            answer = self._call("GET", self._item_url(webhook_id), "read webhook", webhook_id)
        except NotFound:
            return None
        return _parse(answer, "read webhook", webhook_id)

    def list(self, on_page: Optional[Callable[[int, int], None]] = None) -> Listing:
        """Every webhook of the shop, page by page.

        ``on_page(pages, webhooks)`` is told after each page, for a progress line.
        """
        listing = Listing()
        for pages, items in enumerate(self.pages("webHooks", {}, "list webhooks"), start=1):
            for item in items:
                listing.add(read_listed(item))
            if on_page:
                on_page(pages, listing.count)
        return listing

    def pages(self, resource: str, filters: dict[str, Any], operation: str) -> Iterator[Page]:
        """The items of a collection (``webHooks``, ``orderExtend``, ...) that ``filters``
        keep, whole (``full=1``), a page at a time, following ``next`` links (only to the
        configured API). An item the shop gave as a link only is read by itself."""
        url: Optional[str] = f"{self.settings.api_url}/{resource}"
        params: Optional[dict[str, Any]] = {**filters, "full": 1, "limit": PAGE_LIMIT, "page": 0}
        while url:
            page = self._call("GET", url, operation, params=params)
            items = page.get("items") or []
            if not isinstance(items, list):
                raise ShoprenterError(operation, f"the shop's page of {resource} has no item list")
            yield [
                self._call("GET", self._same_api(item["href"]), operation)
                if set(item) <= {"href"}  # a link only: the shop ignored full=1
                else item
                for item in items
            ]
            link = _next_link(page)
            url, params = (self._same_api(link) if link else None), None

    def post(self, state: WebhookState) -> LiveWebhook:
        """Create the webhook: one POST, never repeated here (see
        :mod:`provider.shoprenter.ledger`)."""
        answer = self._call(
            "POST", self._base, "create webhook", state.label, body=state.to_api_body()
        )
        return _parse(answer, "create webhook", state.label)

    def put(self, webhook_id: str, state: WebhookState) -> LiveWebhook:
        """Overwrite the webhook with ``state`` (PUT replaces parameters and delay whole)."""
        answer = self._call(
            "PUT",
            self._item_url(webhook_id),
            "update webhook",
            state.label,
            body=state.to_api_body(),
        )
        return _parse(answer, "update webhook", state.label)

    def delete(self, webhook_id: str, label: str) -> None:
        """Remove the webhook; :class:`NotFound` when the shop no longer has it."""
        self._call("DELETE", self._item_url(webhook_id), "delete webhook", label)

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
        """Send one request in its pacer slot and return its JSON answer, or raise its error."""
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
        self._settle(response, operation, subject)
        if method == "DELETE":
            return {}  # a DELETE's answer carries nothing needed
        return _json_object(response, operation, subject)

    def _settle(self, response: requests.Response, operation: str, subject: Optional[str]) -> None:
        """Tell the pacer how the shop took the request; raise the error an answer means."""
        if response.ok:
            self._pacer.accepted()
            return
        failure = error_for(
            response, operation, subject=subject, credential_keys=self._credential_keys
        )
        if isinstance(failure, RateLimited):
            self._pacer.refused(failure.retry_after)
        else:
            self._pacer.accepted()  # refused for another reason, but not for pace
        raise failure

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


def _parse(answer: dict[str, Any], operation: str, subject: Optional[str]) -> LiveWebhook:
    """The webhook a successful answer describes; one that describes none is an unclear
    outcome (the call may have been carried out)."""
    try:
        return LiveWebhook.from_api(answer)
    except (ValueError, KeyError, TypeError) as error:
        raise AmbiguousOutcome(
            operation, f"the shop's answer describes no webhook ({error})", subject=subject
        ) from None


def _json_object(
    response: requests.Response, operation: str, subject: Optional[str]
) -> dict[str, Any]:
    """The answer's JSON object, unwrapped from ``{"response": …}`` where the shop wraps it.

    A success whose body is not the API's (a proxy's page, an empty or cut-off body) is an
    unclear outcome, not a failure: the call may have been carried out, and the ledger looks
    before it posts again.
    """
    instead = not_an_answer(response)
    answer = None if instead else response.json()
    if isinstance(answer, dict) and set(answer) == {"response"}:
        answer = answer["response"]
    if not isinstance(answer, dict):
        raise AmbiguousOutcome(
            operation,
            instead or "a JSON answer that is not an object, not an answer of the Shoprenter API",
            subject=subject,
            status=response.status_code,
        )
    return answer


def _next_link(page: dict[str, Any]) -> Optional[str]:
    link = page.get("next")
    if isinstance(link, dict) and link.get("href"):
        return str(link["href"])
    return None
