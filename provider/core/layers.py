"""Declarations in layers: what every shop gets, and each shop's own on top.

An agency declares once what every shop gets (``webhooksFile``, a default in ``Pulumi.yaml``)
and lets a shop add to it, change one of its entries or leave one out, in a file of its own
(``shopWebhooksFile``) or in its stack config (the keys ``webhooks``, ``overrides`` and
``omit``). A later edit of the shared file reaches every shop that does not override it.

Each source is a *layer* of up to three sections, and the layers apply in that order (the
shared file, the shop's file, the stack config); within a layer:

1. ``omit``: names of entries below that this shop does not get;
2. ``overrides``: by name, keys that replace those of an entry below, one by one. ``targets``
   and the one-target shorthand (``url``, ``format``, ``fields``) describe the same thing, so
   setting one of them drops the other from the entry;
3. ``webhooks``: entries added. A name already declared is an error naming both places: a
   change on purpose is an override, or an ``omit`` and a new entry.

Naming an entry that no layer below declares (in ``omit`` or ``overrides``) is an error too,
so that a typo never goes unseen. The result is a list of located entries, each with where it
came from (``webhooks.yaml: webhooks[0] (erp) with shops/b.yaml: overrides.erp``), which the
validation (:mod:`provider.program`) names in its messages, beside the problems of the merge
itself: one error lists them all. Entries are not validated here: merging needs no models.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .bag import TARGET_KEYS
from .errors import DeclarationError

SECTIONS = ("webhooks", "overrides", "omit")

# (where, entry): an entry as written, and the places that made it, for messages.
Located = tuple[str, Any]


@dataclass(frozen=True)
class Layer:
    """One source of declarations: its name for messages and its three sections."""

    source: str
    webhooks: list[Any] = field(default_factory=list)
    overrides: dict[str, Any] = field(default_factory=dict)
    omit: list[Any] = field(default_factory=list)

    @classmethod
    def of_document(cls, document: Any, source: str) -> Layer:
        """A layer file: a list of entries, or a mapping of the sections (``{}``: empty)."""
        if document is None or isinstance(document, list):
            return cls.of_sections(source, webhooks=document)
        if not isinstance(document, Mapping):
            raise DeclarationError(
                f"{source}: must be a list of webhook entries or a mapping of {', '.join(SECTIONS)}"
            )
        unknown = [key for key in document if key not in SECTIONS]
        if unknown:
            raise DeclarationError(
                f"{source}: {unknown[0]}: unknown section{_hint(unknown[0], SECTIONS)}; the "
                "sections are "
                f"{', '.join(SECTIONS)}"
            )
        return cls.of_sections(
            source, **{key: document[key] for key in SECTIONS if key in document}
        )

    @classmethod
    def of_sections(
        cls, source: str, webhooks: Any = None, overrides: Any = None, omit: Any = None
    ) -> Layer:
        """A layer from its sections as read (``None``: absent), each checked for its shape."""
        prefix = f"{source}: " if source else ""
        if not isinstance(webhooks, (list, type(None))):
            raise DeclarationError(f"{prefix}webhooks must be a list of webhook entries")
        if not isinstance(overrides, (Mapping, type(None))) or not all(
            isinstance(value, Mapping) for value in (overrides or {}).values()
        ):
            raise DeclarationError(
                f"{prefix}overrides must map entry names to the keys they change, e.g. "
                "{erp-orders: {url: https://...}}"
            )
        if not isinstance(omit, (list, type(None))):
            raise DeclarationError(f"{prefix}omit must be a list of entry names")
        return cls(source, list(webhooks or []), dict(overrides or {}), list(omit or []))

    def at(self, section: str) -> str:
        """Where a section of this layer is, for messages."""
        return f"{self.source}: {section}" if self.source else section


@dataclass(frozen=True)
class Merged:
    """The entries the layers declare together, and what is wrong with the layering (an
    omit or override of an unknown name, a name clash with both places)."""

    located: list[Located]
    problems: list[str]


def merge(layers: list[Layer]) -> Merged:
    """The entries the layers declare together, in order, each with where it came from."""
    merged: dict[str, Located] = {}
    unnamed: list[Located] = []  # not a mapping with a name: validation names the fault
    problems: list[str] = []
    for layer in layers:
        problems += _omit(layer, merged)
        problems += _override(layer, merged)
        added: set[str] = set()
        for index, entry in enumerate(layer.webhooks):
            where = f"{layer.at('webhooks')}[{index}]"
            name = _name_of(entry)
            if name is None:
                unnamed.append((where, entry))
            elif name in merged:
                problems.append(f"{where} ({name}): {_clash(name, merged[name][0], name in added)}")
            else:
                merged[name] = (f"{where} ({name})", entry)
                added.add(name)
    return Merged([*merged.values(), *unnamed], problems)


def _clash(name: str, first: str, same_layer: bool) -> str:
    """Why a name declared again is refused, and what to write instead."""
    if same_layer:
        return f"the name is used already by {first}; names must be unique"
    return (
        f"the name is declared already by {first}; to change that entry here, set "
        f"overrides.{name}, or omit it and declare it anew"
    )


def _omit(layer: Layer, merged: dict[str, Located]) -> list[str]:
    problems = []
    for index, name in enumerate(layer.omit):
        if isinstance(name, str) and name in merged:
            del merged[name]
        else:
            where = f"{layer.at('omit')}[{index}]"
            problems.append(f"{where}: {name!r} {_no_such_entry(name, merged)}")
    return problems


def _override(layer: Layer, merged: dict[str, Located]) -> list[str]:
    problems = []
    for name, changes in layer.overrides.items():
        where = f"{layer.at('overrides')}.{name}"
        if name not in merged:
            problems.append(f"{where}: {_no_such_entry(name, merged)}")
        elif "name" in changes:
            problems.append(
                f"{where}: name: an override cannot rename (omit the entry and add one)"
            )
        else:
            below, entry = merged[name]
            merged[name] = (f"{below} with {where}", overridden(entry, changes))
    return problems


def overridden(entry: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``entry`` with ``changes`` replacing its keys; ``targets`` and the shorthand replace
    each other."""
    if "targets" in changes:
        dropped: tuple[str, ...] = TARGET_KEYS
    elif any(key in changes for key in TARGET_KEYS):
        dropped = ("targets",)
    else:
        dropped = ()
    return {**{k: v for k, v in entry.items() if k not in dropped}, **changes}


def _name_of(entry: Any) -> Any:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return name if isinstance(name, str) and name.strip() else None


def _no_such_entry(name: Any, merged: Mapping[str, Located]) -> str:
    return f"names no entry declared below{_hint(name, merged)}"


def _hint(name: Any, known: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the known name closest to ``name`` (case aside), if any."""
    by_lower = {candidate.lower(): candidate for candidate in known}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1)
    return f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
