"""The property bag: the shape Pulumi stores a webhook in, written in one place.

``event``, ``label``, ``enabled``, ``targets`` (each ``{url, format, fields}``), ``delay``,
``adoptId`` and ``owner``. Nothing here validates or normalises (that is
:class:`provider.core.model.WebhookState`'s one job), and nothing here needs pydantic: the program's
resources and a provider process's unchanged ``check`` and ``diff`` use only this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def property_bag(
    *,
    event: Any,
    label: Any,
    targets: Any,
    enabled: Any = True,
    delay: Any = None,
    adopt_id: Any = None,
    owner: Any = None,
) -> dict[str, Any]:
    """The one place the property bag is written, from ``WebhookState``'s field names.

    Values may be Pulumi inputs still to be resolved (``Webhook`` passes them through), so
    nothing is validated here: ``check`` does that in the provider.
    """
    return {
        "event": event,
        "label": label,
        "enabled": enabled,
        "targets": [target_bag(target) for target in targets]
        if isinstance(targets, (list, tuple))
        else targets,
        "delay": delay,
        "adoptId": adopt_id,
        "owner": owner,
    }


def target_bag(target: Any) -> Any:
    """One target as the property bag holds it: ``fields`` a plain list (the SDK takes no
    tuples); anything else (an input still to be resolved) as it is."""
    if not isinstance(target, Mapping):
        return target
    fields = target.get("fields")
    return {**target, "fields": list(fields) if isinstance(fields, (list, tuple)) else fields}


def fold_shorthand(data: Mapping[str, Any]) -> dict[str, Any]:
    """``url``, ``format`` and ``fields`` as the one target they stand for.

    The shorthand of a declaration, and the shape every state from before several targets
    were supported has. Both ``targets`` and the shorthand at once is refused: which one was
    meant cannot be told.
    """
    shorthand = {key: data[key] for key in TARGET_KEYS if data.get(key) is not None}
    rest = {key: value for key, value in data.items() if key not in TARGET_KEYS}
    if not shorthand:
        return rest
    if rest.get("targets") is not None:
        raise ValueError(
            f"set either targets or {', '.join(TARGET_KEYS)} (the one-target shorthand), "
            f"not both (got {', '.join(shorthand)} beside targets)"
        )
    return {**rest, "targets": [shorthand]}


# The keys of the property bag, in the order a person reads them, and of one target (which,
# written on the webhook itself, are the one-target shorthand).
PROPERTY_KEYS: tuple[str, ...] = tuple(property_bag(event=None, label=None, targets=None))
TARGET_KEYS = ("url", "format", "fields")
