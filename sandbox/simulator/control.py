"""A client of the simulator's control routes (``/_sim/...``)."""

from __future__ import annotations

from typing import Any, Optional

import requests

from .shop import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


class SimulatorControl:
    """The simulator's control routes over HTTP, for tests, the demo and the benchmarks."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")
        self.api_url = f"{self.url}/api"
        self.token_url = f"{self.url}/demo/app/token"

    def connection(self, **extra: str) -> dict[str, str]:
        """The ``shoprenter:`` settings (without the namespace) that reach this simulator."""
        return {
            "apiUrl": self.api_url,
            "tokenUrl": self.token_url,
            "clientId": DEFAULT_CLIENT_ID,
            "clientSecret": DEFAULT_CLIENT_SECRET,
            **extra,
        }

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.url}/_sim/{path}", json=body, timeout=10)
        response.raise_for_status()
        return response.json()

    def reset(self, **settings: Any) -> None:
        """Forget every webhook, token, fault and log entry; then apply ``settings``."""
        self._call("POST", "reset")
        if settings:
            self._call("POST", "settings", settings)

    def settings(self, **changes: Any) -> dict[str, Any]:
        return dict(self._call("POST", "settings", changes))

    def fault(self, method: str, path: str, **fault: Any) -> None:
        self._call("POST", "faults", {"method": method, "path": path, **fault})

    def end_delays(self) -> None:
        """Answer now every request a ``delay`` fault is holding back."""
        self._call("POST", "faults/release")

    def requests(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "requests"))

    def api_calls(self, method: Optional[str] = None) -> list[dict[str, Any]]:
        """Calls to the webHooks API (not the token endpoint), optionally of one method."""
        return [
            call
            for call in self.requests()
            if "/webHooks" in call["path"] and (method is None or call["method"] == method)
        ]

    def token_requests(self) -> int:
        return sum(1 for call in self.requests() if call["path"].endswith("/app/token"))

    def webhooks(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "webhooks"))

    def add_webhook(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self._call("POST", "webhooks", body))

    def edit_webhook(self, webhook_id: str, **changes: Any) -> dict[str, Any]:
        return dict(self._call("PATCH", f"webhooks/{webhook_id}", changes))

    def delete_webhook(self, webhook_id: str) -> None:
        self._call("DELETE", f"webhooks/{webhook_id}")

    def revoke_tokens(self) -> None:
        self._call("POST", "tokens/revoke")

    def place_order(self, **order: Any) -> list[dict[str, Any]]:
        """Place an order (``number``, ``at``, ``status``; see
        :func:`sandbox.simulator.delivery.place_order`): delivers its event."""
        return list(self._call("POST", "orders", order))

    def change_status(self, number: int, **change: Any) -> list[dict[str, Any]]:
        """Move order ``number`` to ``status`` (``at``, ``comment``): delivers
        ``order_status_change``."""
        return list(self._call("POST", f"orders/{number}/status", change))

    def orders(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "orders"))

    def deliveries(self) -> list[dict[str, Any]]:
        """What the shop delivered or tried to, in order (an outage's failures included)."""
        return list(self._call("GET", "deliveries"))

    def take_down(self, url: str, seconds: Optional[float] = None) -> None:
        """Deliveries to URLs starting with ``url`` fail, as if its receiver were down."""
        self._call("POST", "outages", {"url": url, "seconds": seconds})

    def bring_up(self, url: str) -> None:
        self._call("POST", "outages/end", {"url": url})
