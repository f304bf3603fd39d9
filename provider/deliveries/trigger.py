"""Test deliveries: send a target what Shoprenter would, and say plainly how it answered.

Shoprenter documents no retry and exposes no delivery log, so a target that does not answer
loses orders silently. :func:`send` makes one delivery in Shoprenter's wire format
(:mod:`provider.deliveries.builder`) and reports the answer as an :class:`Outcome`: a ``2xx`` is a
delivery; a refused connection, a TLS failure, a timeout, a redirect (Shoprenter is not known
to follow one) or any other status is named in one line. It serves:

* ``shoprenter-webhooks trigger`` (:mod:`provider.cli`), for a stack's declared targets or
  one URL;
* the go-live check (``shoprenter-webhooks:verifyTargets``, :func:`verify`), before a webhook
  that gains or changes a target is written to the shop;
* the simulator's deliveries, which are the same request without the test header.

A URL is shown with its query string and credentials masked
(:func:`provider.deliveries.builder.mask`): a target's URL usually carries its secret.
"""

from __future__ import annotations

import functools
import os
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Optional
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    HTTPError,
    NewConnectionError,
    ProtocolError,
    SSLError,
    TimeoutError,
)

from ..core.errors import ShoprenterError, status_text
from ..core.model import Target, WebhookState
from .builder import (
    DEFAULT_TIMEOUT_SECONDS,
    FIELD_NAME,
    TEST_HEADER,
    USER_AGENT,
    Format,
    mask,
    payload,
    render,
)


@dataclass(frozen=True)
class Outcome:
    """How one target answered one delivery."""

    url: str
    format: str
    answer: str  # "HTTP 200 OK", or what went wrong
    seconds: float
    delivered: bool

    @property
    def target(self) -> str:
        return mask(self.url)


def send(
    url: str,
    event: str,
    format: Format = "json",
    fields: Iterable[str] = (),
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    test: bool = True,
    number: int = 1,
) -> Outcome:
    """Deliver a sample of ``event`` to ``url`` once, as Shoprenter does (``test``: marked as
    a test)."""
    body = render(payload(event, fields, number), format)
    return deliver(url, body, format, {TEST_HEADER: "1"} if test else {}, timeout=timeout)


def deliver(
    url: str,
    body: str,
    format: Format,
    headers: Mapping[str, str],
    *,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Outcome:
    """POST ``body`` (a rendered payload) to ``url`` once in Shoprenter's wire format, with
    ``headers`` beside its own; only a ``2xx`` counts as delivered."""
    started = time.monotonic()
    try:
        response = _pool(proxy_for(url)).request(
            "POST",
            url,
            fields={FIELD_NAME: body},  # multipart/form-data, as Shoprenter (PHP's curl) sends
            headers={"User-Agent": USER_AGENT, **headers},
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
            redirect=False,
            retries=False,
        )
    except HTTPError as error:
        return Outcome(url, format, _failure(error, timeout), time.monotonic() - started, False)
    seconds = time.monotonic() - started
    answer = f"HTTP {status_text(response.status)}"
    location = response.get_redirect_location()
    if location:
        return Outcome(url, format, f"{answer}: a redirect to {mask(location)}", seconds, False)
    return Outcome(url, format, answer, seconds, 200 <= response.status < 300)


def proxy_for(url: str) -> Optional[str]:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``HTTP_PROXY``,
    ``ALL_PROXY``, less ``NO_PROXY``), as requests and curl read them; ``None``: direct."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(parts.hostname or ""):
        return None
    return proxy


@functools.cache
def _pool(proxy: Optional[str]) -> urllib3.PoolManager:
    """One connection pool per proxy (``None``: direct) for this process's deliveries, with
    the CA bundle requests would use: ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE``, else
    certifi's, else the system's."""
    ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not ca_certs:
        try:
            import certifi  # noqa: PLC0415 (installed with the provider, not by a receiver)
        except ImportError:
            ca_certs = None
        else:
            ca_certs = certifi.where()
    if proxy:
        return urllib3.ProxyManager(proxy, ca_certs=ca_certs)
    return urllib3.PoolManager(ca_certs=ca_certs)


def _failure(error: HTTPError, timeout: float) -> str:
    """What went wrong before any answer, in a few words (never the URL)."""
    if isinstance(error, SSLError):
        return "TLS failure (certificate or handshake refused)"
    # Before the timeouts: urllib3's NewConnectionError is a kind of ConnectTimeoutError.
    if isinstance(error, (NewConnectionError, ProtocolError)):
        refused = "refused" in str(error).lower() or "Errno 111" in str(error)
        return "connection refused" if refused else "could not connect (name or network)"
    if isinstance(error, TimeoutError):
        return f"no answer within {timeout:g} s"
    return f"the request failed ({type(error).__name__})"


class TargetUnready(ShoprenterError):
    """A new or changed target did not answer a test delivery with ``2xx``: the webhook was
    not written (``verifyTargets``)."""

    def __init__(self, label: str, outcome: Outcome) -> None:
        super().__init__(
            "verify target of webhook",
            f"{outcome.target} answered a test delivery with {outcome.answer}; nothing was "
            "written to the shop for this webhook (shoprenter-webhooks:verifyTargets is on). "
            "Fix the target, then run `pulumi up` again",
            subject=label,
        )


def targets_to_verify(old: Optional[WebhookState], new: WebhookState) -> list[Target]:
    """The targets a write would make deliver anew: all of a webhook being created or
    enabled, else those added or changed (url, format or fields); none while disabled."""
    if not new.enabled:
        return []
    if old is None or not old.enabled:
        return list(new.targets)
    return [target for target in new.targets if target not in old.targets]


def verify(state: WebhookState, targets: list[Target], timeout: float) -> None:
    """Send each target one test delivery of ``state``'s event; the first that does not
    answer ``2xx`` stops the write."""
    for target in targets:
        outcome = send(target.url, state.event, target.format, target.fields, timeout=timeout)
        if not outcome.delivered:
            raise TargetUnready(state.label, outcome)
