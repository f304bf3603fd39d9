"""The payload field names Shoprenter documents for each event, kept as data.

``payload_fields.json`` beside this module is the docs' field tables (with the date of the docs
it was read from). Shoprenter adds names every year; a name newer than the table is accepted
when the stack lists it in ``extraFields``, so nobody has to wait for a release of this tool.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterable
from importlib import resources
from typing import Literal, Optional

# The events Shoprenter documents: a webhook's ``event``, and the keys of the field tables.
Event = Literal[
    "order_confirm",
    "order_status_change",
    "newsletter_subscribe",
    "newsletter_unsubscribe",
    "newsletter_update_subscriber",
    "abandoned_cart",
]
EVENTS: tuple[str, ...] = Event.__args__  # type: ignore[attr-defined]


@functools.cache
def documented_fields() -> dict[str, frozenset[str]]:
    """Event -> the field names its payload can carry, as documented."""
    table = json.loads(resources.files(__package__).joinpath("payload_fields.json").read_text())
    return {event: frozenset(names) for event, names in table["events"].items()}


def fields_problem(event: str, names: Iterable[str], extra: frozenset[str]) -> Optional[str]:
    """Why ``names`` cannot be sent with ``event``, or ``None`` when every name can."""
    table = documented_fields()
    known = table.get(event, frozenset()) | extra
    problems = [_why_not(name, event, known, table) for name in names if name not in known]
    return "; ".join(problems) or None


def _why_not(name: str, event: str, known: frozenset[str], table: dict[str, frozenset[str]]) -> str:
    elsewhere = sorted(other for other, names in table.items() if name in names)
    if elsewhere:
        return f"{name} is not sent with {event} (Shoprenter sends it with {', '.join(elsewhere)})"
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"{name} is not a documented payload field of {event} ({hint}a newer name can be "
        "listed in the stack config key extraFields)"
    )
