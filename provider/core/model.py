"""The webhook model: one normalisation shared by declarations, API bodies and API answers.

Three shapes describe the same webhook:

* the *property bag* Pulumi stores (``event``, ``label``, ``enabled``, ``targets``, ``delay``,
  ``adoptId``, ``owner``), each target ``{url, format, fields}``;
* the *API body* Shoprenter takes on POST and PUT (``status``, ``webHookParameters`` (one per
  target) and ``webHookDelay`` as lists, numbers as strings, the owner marked in the label);
* the *API answer* a GET returns (related resources as an object *or* a list, back-links,
  numbers as strings, fields as a list or one name, an absent delay as ``[]``, ``{}`` or
  missing, the owner in the label).

:class:`WebhookState` turns each of them into the same canonical value, so that a webhook
declared, created and read back compares equal and ``diff`` never reports a change that is
not there. A webhook delivers to a *set* of targets keyed by url: order carries no meaning, and
the canonical value lists them by url. ``url``, ``format`` and ``fields`` are the one-target
shorthand (and the shape of states written before several targets were supported): the same
normalisation folds them into ``targets`` (:func:`~provider.core.bag.fold_shorthand`). The bag is
written in one place, :mod:`provider.core.bag`, which needs no pydantic: a provider process that
only finds nothing changed never loads it (see ``WebhookProvider.check``).

:class:`DeclaredWebhook` adds the rules a *declaration* must follow (https targets, field names
of the event's family) on top of that one normalisation; a webhook read from the shop is not
held to them, because someone may have made it by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .bag import PROPERTY_KEYS, TARGET_KEYS, fold_shorthand, property_bag
from .ownership import OWNER_SETTING, mark, owner_problem, split
from .payload import Event, fields_problem
from .rules import NO_RULES, Rules, host_of, require_secure_url


class Delay(BaseModel):
    """How long Shoprenter waits before delivering; ``None`` on the webhook means at once."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    amount: int = Field(ge=1, description="A whole number of units, at least 1.")
    unit: Literal["hour", "day"]

    @field_validator("amount", mode="before")
    @classmethod
    def _whole_number(cls, value: Any) -> Any:
        """Take ints and the digit strings the API answers with; refuse bools and fractions."""
        if isinstance(value, bool):
            raise ValueError("must be a whole number, not a boolean")
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise ValueError(f"must be a whole number, got {value!r}")
        return value


class Target(BaseModel):
    """One place a webhook delivers to, in its own format and with its own fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    format: Literal["json", "xml"] = "json"
    fields: tuple[str, ...] = ()

    @field_validator("fields", mode="before")
    @classmethod
    def _fields_as_set(cls, value: Any) -> Any:
        """Order and repeats carry no meaning in Shoprenter's field list: sort and dedupe."""
        if value is None:
            return ()
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of payload field names")
        for name in value:
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"every field name must be a non-empty string, got {name!r}")
        return tuple(sorted(set(value)))

    def to_parameter(self) -> dict[str, Any]:
        """The target as one of the API body's ``webHookParameters``."""
        parameter: dict[str, Any] = {"type": self.format, "url": self.url}
        if self.fields:
            parameter["fields"] = list(self.fields)
        return parameter


class WebhookState(BaseModel):
    """The canonical value of one webhook: what ``diff`` compares and Pulumi stores."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    event: Event
    label: str
    enabled: StrictBool = True
    targets: tuple[Target, ...]
    delay: Optional[Delay] = None
    adopt_id: Optional[str] = Field(
        default=None, validation_alias=AliasChoices("adoptId", "adopt_id")
    )
    # Who owns it on the shop (see provider.core.ownership); None: nobody, or a state from before
    # owners were marked.
    owner: Optional[str] = None

    @model_validator(mode="before")
    @classmethod
    def _one_target_shorthand(cls, data: Any) -> Any:
        return fold_shorthand(data) if isinstance(data, Mapping) else data

    @field_validator("targets", mode="before")
    @classmethod
    def _targets_are_a_list(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)):
            raise ValueError("must be a list of targets, each {url, format, fields}")
        return value

    @field_validator("targets")
    @classmethod
    def _targets_as_set(cls, value: tuple[Target, ...], info: ValidationInfo) -> tuple[Target, ...]:
        """Judged first (:meth:`_judge_targets`) as declared, then put in url order."""
        cls._judge_targets(value, info)
        return as_target_set(value)

    @classmethod
    def _judge_targets(cls, targets: tuple[Target, ...], info: ValidationInfo) -> None:
        """What a declaration's targets must meet besides their own fields; a webhook read
        from the shop meets nothing more."""

    @classmethod
    def from_props(cls, props: Mapping[str, Any]) -> WebhookState:
        """The canonical value of a property bag (stored outputs carry extra keys: ignored;
        a state from before several targets has the shorthand instead of ``targets``)."""
        keys = (*PROPERTY_KEYS, *TARGET_KEYS)
        return cls.model_validate({key: props.get(key) for key in keys})

    def to_props(self) -> dict[str, Any]:
        """The property bag Pulumi stores (plain dicts and lists: the SDK takes nothing else)."""
        return property_bag(**self.model_dump())

    @property
    def urls(self) -> tuple[str, ...]:
        """Where it delivers, by url."""
        return tuple(target.url for target in self.targets)

    def same_webhook(self, other: WebhookState) -> bool:
        """Compare what lives on the shop; ``adoptId`` only steers ``create`` and is ignored."""
        return self.model_dump(exclude={"adopt_id"}) == other.model_dump(exclude={"adopt_id"})

    def changed_keys(self, other: WebhookState) -> list[str]:
        """The property-bag keys whose values differ, for a diff a person can read."""
        mine, theirs = self.to_props(), other.to_props()
        return [key for key in PROPERTY_KEYS if key != "adoptId" and mine[key] != theirs[key]]

    def identity(self) -> tuple[str, ...]:
        """What makes two webhooks duplicates of each other: event, targets' urls and label
        (for one target: event, url and label)."""
        return (self.event, *sorted(self.urls), self.label)

    def twin_key(self) -> str:
        """A digest of :meth:`identity`: recognises a twin without keeping its URLs."""
        return hashlib.sha256("\0".join(self.identity()).encode()).hexdigest()[:24]

    def to_api_body(self) -> dict[str, Any]:
        """The POST/PUT body: related resources as lists, numbers as strings."""
        return {
            "event": self.event,
            "status": "1" if self.enabled else "0",
            "label": mark(self.label, self.owner),
            "webHookParameters": [target.to_parameter() for target in self.targets],
            "webHookDelay": (
                [{"delay": str(self.delay.amount), "delayUnit": self.delay.unit}]
                if self.delay
                else []
            ),
        }


def as_target_set(targets: tuple[Target, ...]) -> tuple[Target, ...]:
    """Targets as a set keyed by url: at least one, no url twice, listed by url."""
    if not targets:
        raise ValueError("at least one target is needed")
    urls = [target.url for target in targets]
    repeated = sorted({host_of(url) for url in urls if urls.count(url) > 1})
    if repeated:
        raise ValueError(
            f"two targets deliver to one url (on {', '.join(repeated)}): a target's url "
            "names it, so give each url once with its format and fields"
        )
    return tuple(sorted(targets, key=lambda target: target.url))


class DeclaredTarget(Target):
    """A target as a user declares it: a secure URL, among the allowed targets."""

    @field_validator("url")
    @classmethod
    def _url_is_secure_and_allowed(cls, value: str, info: ValidationInfo) -> str:
        require_secure_url(value, "the delivery URL")
        problem = _rules(info).target_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class DeclaredWebhook(WebhookState):
    """A webhook as a user declares it: the canonical value plus the rules a target must meet."""

    targets: tuple[DeclaredTarget, ...]

    @field_validator("label")
    @classmethod
    def _label_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty: it is the name shown in the Shoprenter admin")
        return value

    @field_validator("owner")
    @classmethod
    def _owner_is_a_name(cls, value: Optional[str]) -> Optional[str]:
        problem = value is not None and owner_problem(value)
        if problem:
            raise ValueError(f"{problem} (set by {OWNER_SETTING})")
        return value

    @classmethod
    def _judge_targets(cls, targets: tuple[Target, ...], info: ValidationInfo) -> None:
        """Each target's field names must be sent with the event, named by its place as
        declared (before the targets are put in url order)."""
        event, extra = info.data.get("event"), _rules(info).extra_fields
        problems = [
            f"[{index}].fields: {problem}"
            for index, target in enumerate(targets)
            if event and (problem := fields_problem(event, target.fields, extra))
        ]
        if problems:
            raise ValueError("; ".join(problems))

    @model_validator(mode="before")
    @classmethod
    def _adopt_id_not_blank(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("adoptId") == "":
            return {**data, "adoptId": None}
        return data


def _rules(info: ValidationInfo) -> Rules:
    """The stack's rules, handed to validation as its context (none: the documented ones)."""
    context = info.context if isinstance(info.context, dict) else {}
    rules = context.get("rules", NO_RULES)
    return rules if isinstance(rules, Rules) else NO_RULES


class LiveWebhook(BaseModel):
    """A webhook as the shop reports it: its id, its link and its canonical state."""

    model_config = ConfigDict(frozen=True)

    id: str
    href: str
    state: WebhookState

    @classmethod
    def from_api(cls, answer: dict[str, Any]) -> LiveWebhook:
        """Parse one webhook from any of the documented answer shapes."""
        delays = _as_list(answer.get("webHookDelay"))
        label, owner = split(str(answer.get("label") or ""))
        state = WebhookState.model_validate(
            {
                "event": answer["event"],
                "label": label,
                "owner": owner,
                "enabled": str(answer.get("status", "1")).strip() in ("1", "true"),
                "targets": [
                    {
                        "url": parameter.get("url", ""),
                        "format": str(parameter.get("type", "json")).lower(),
                        "fields": _names(parameter.get("fields")),
                    }
                    for parameter in _as_list(answer.get("webHookParameters"))
                ],
                "delay": (
                    {"amount": delays[0]["delay"], "unit": delays[0]["delayUnit"]}
                    if delays
                    else None
                ),
            }
        )
        return cls(id=str(answer["id"]), href=str(answer.get("href", "")), state=state)

    def to_outputs(self, adopt_id: Optional[str] = None) -> dict[str, Any]:
        """The outputs Pulumi stores: every input in canonical form plus the shop's id and link."""
        props = self.state.model_copy(update={"adopt_id": adopt_id}).to_props()
        return {**props, "webhookId": self.id, "href": self.href}


@dataclass(frozen=True)
class Unmanageable:
    """A webhook on the shop that no single declaration can describe, and why not."""

    id: str
    event: str
    label: str
    owner: Optional[str]
    urls: tuple[str, ...]
    reason: str

    @classmethod
    def from_api(cls, answer: dict[str, Any], reason: str) -> Unmanageable:
        urls = tuple(str(p.get("url", "")) for p in _as_list(answer.get("webHookParameters")))
        label, owner = split(str(answer.get("label", "")))
        return cls(
            str(answer.get("id", "")), str(answer.get("event", "")), label, owner, urls, reason
        )


def read_listed(answer: dict[str, Any]) -> LiveWebhook | Unmanageable:
    """A webhook from a listing: parsed, or set aside with the reason it cannot be managed."""
    try:
        return LiveWebhook.from_api(answer)
    except ValidationError as error:
        failures = (_failure(detail, shorthand=False) for detail in error.errors())
        return Unmanageable.from_api(answer, "; ".join(f"{k}: {r}" for k, r in failures))
    except (ValueError, KeyError, TypeError) as error:
        return Unmanageable.from_api(answer, str(error).splitlines()[0])


def _names(value: Any) -> list[str]:
    """Field names arrive as a list, or as one bare name."""
    if isinstance(value, str):
        return [value] if value else []
    return [str(name) for name in _as_list(value)]


def _as_list(value: Any) -> list[Any]:
    """Related resources arrive as a list, a single object, ``{}``, ``[]`` or not at all."""
    if value in (None, "", {}):
        return []
    if isinstance(value, list):
        return [item for item in value if item]
    if isinstance(value, dict):
        return [value]
    raise ValueError(f"expected an object or a list, got {value!r}")


def validate_declaration(
    props: dict[str, Any],
    unknown_keys: frozenset[str] = frozenset(),
    rules: Rules = NO_RULES,
) -> tuple[Optional[DeclaredWebhook], list[tuple[str, str]]]:
    """Validate a property bag; return the webhook, or the failures as (property, reason).

    ``unknown_keys`` are properties whose values Pulumi will only know after other
    resources exist (a preview's computed inputs): they are left unjudged, and no webhook
    is returned while any remain. A failure of a target is named as written: ``url`` in
    the one-target shorthand, ``targets`` with the target's place (``[1].url: ...``) else.
    """
    known = {key: value for key, value in props.items() if key not in unknown_keys}
    shorthand = any(known.get(key) is not None for key in TARGET_KEYS)
    try:
        folded = fold_shorthand(known)
        declared = DeclaredWebhook.model_validate(folded, context={"rules": rules})
    except ValueError as error:  # pydantic's ValidationError is one too
        details = error.errors() if isinstance(error, ValidationError) else []
        failures = [_failure(detail, shorthand) for detail in details] or [("targets", str(error))]
        return None, [
            NO_TARGET_WRITTEN if failure == NO_TARGET else failure
            for failure in failures
            if failure[0] not in unknown_keys
        ]
    return (None, []) if unknown_keys else (declared, [])


# No target at all: the user wrote neither form, so the message names the shorthand's url.
NO_TARGET = ("targets", "is required")
NO_TARGET_WRITTEN = ("url", "is required (or targets, for several)")


def _failure(detail: Any, shorthand: bool) -> tuple[str, str]:
    """A pydantic error as (property, reason), a target's named as the user wrote it."""
    location: list[Any] = list(detail["loc"])
    reason = str(detail["msg"]).removeprefix("Value error, ")
    if location == ["targets"] and reason.startswith("["):  # a check over the raw targets
        place, _, reason = reason.partition(": ")
        location += _parse_place(place)
    if shorthand and location[:2] == ["targets", 0] and len(location) > 2:
        location = location[2:]
    key = str(location[0]) if location else "webhook"
    inner = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location[1:])
    if detail["type"] == "extra_forbidden":
        names = TARGET_KEYS if len(location) > 1 else PROPERTY_KEYS
        reason = f"unknown property; the properties are {', '.join(names)}"
    elif detail["type"] == "missing":
        reason = "is required"
    return key, f"{inner.removeprefix('.')}: {reason}" if inner else reason


def _parse_place(place: str) -> list[Any]:
    """``[0].fields`` as ``[0, "fields"]``."""
    index, _, name = place.removeprefix("[").partition("].")
    return [int(index), name] if index.isdigit() else []
