"""Who owns a webhook on a shared shop: a marker at the end of its label.

A shop is shared by people, other integrations and more than one stack, and each stack knows
only its own state. So the owner is written where every stack and every person can see it, on
the shop itself: Shoprenter webhooks have no metadata field, and the ``label`` is the documented
place for internal identification (it is not part of the delivered message). A stack's
webhook is labelled ``ERP sync [pulumi:agency/prod]``: the declared label, a space, and
``[pulumi:OWNER]``.

:func:`mark` and :func:`split` are the two halves of the one normalisation
(:mod:`provider.core.model`): the declared label, the outputs and the diff never carry the marker;
only the API body and answer do. ``split(mark(label, owner)) == (label, owner)`` for every
label, because only the last marker is ever read.

Only a marker that names *another* owner makes a webhook someone else's (:func:`is_foreign`).
A label without a marker, or this owner's marker on other text, on a webhook this stack holds
is the same webhook with its label edited in the admin: drift, put back by the next ``up``,
never a reason to let it go (and make a second one).

An owner defaults to ``<project>/<stack>``; ``shoprenter-webhooks:owner`` sets it. It must be
told apart from a label at a glance and by :func:`split`, so it is one word of letters,
digits and ``. _ - /``.
"""

from __future__ import annotations

import re
from typing import Optional, TypeGuard

# Config keys in the project's namespace (shoprenter-webhooks:owner in this project).
OWNER_KEY = "owner"
TAKE_OVER_KEY = "takeOverFrom"
OWNER_SETTING = "shoprenter-webhooks:owner"
OWNER_LENGTH = 100
_OWNER = rf"[A-Za-z0-9][A-Za-z0-9._/\-]{{0,{OWNER_LENGTH - 1}}}"
OWNER_PATTERN = re.compile(rf"^{_OWNER}$")
_MARKED = re.compile(rf"^(?P<label>.*) \[pulumi:(?P<owner>{_OWNER})\]$", re.DOTALL)


def mark(label: str, owner: Optional[str]) -> str:
    """The label as the shop holds it: ``label [pulumi:owner]`` (unowned: as it is)."""
    return f"{label} [pulumi:{owner}]" if owner else label


def split(shop_label: str) -> tuple[str, Optional[str]]:
    """The declared label and the owner of a label read from the shop (no marker: ``None``)."""
    found = _MARKED.match(shop_label)
    if found is None:
        return shop_label, None
    return found["label"], found["owner"]


def is_foreign(marked: Optional[str], mine: Optional[str]) -> TypeGuard[str]:
    """Whether a webhook whose label carries ``marked`` (``None``: no marker) belongs to an
    owner other than ``mine``: only a marker naming someone else says so."""
    return marked is not None and marked != mine


def owner_problem(owner: object) -> Optional[str]:
    """Why ``owner`` cannot be an owner, or ``None`` when it can."""
    if not isinstance(owner, str) or not owner:
        return "must be a non-empty name such as agency/production"
    if not OWNER_PATTERN.match(owner):
        return (
            f"{owner!r} cannot be told apart from a label: use one word of at most "
            f"{OWNER_LENGTH} letters, digits and . _ - / (e.g. agency/production)"
        )
    return None


def describe_owner(owner: Optional[str], mine: Optional[str]) -> str:
    """An owner for a person: this stack, another stack, or nobody."""
    if owner is None:
        return "unowned"
    if owner == mine:
        return f"this stack's ({owner}), not in its state"
    return f"another stack: {owner}"
