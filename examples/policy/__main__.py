"""A policy pack for Shoprenter webhooks, enforced across every stack of a team.

* mandatory ``webhook-targets-allowed``: a webhook delivers only to an allowed host (order data
  carries customers' names, emails and addresses);
* advisory ``webhook-label-names-owner``: a label names the team that owns the hook, as
  ``@team``, so that whoever finds it in the admin knows whom to ask.

The allowed hosts are the policy's config (``pulumi preview --policy-pack-config FILE``), with
the defaults below.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

WEBHOOK = "pulumi-python:dynamic/shoprenter:Webhook"
DEFAULT_ALLOWED = ["*.example.com"]
OWNER = re.compile(r"@[\w-]+")


def allowed(host: str, patterns: list[str]) -> bool:
    return any(
        host == pattern or (pattern.startswith("*.") and host.endswith(pattern[1:]))
        for pattern in patterns
    )


def targets_allowed(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != WEBHOOK:
        return
    targets: Any = args.props.get("targets")  # the pack sees read-only proxies of lists
    if not isinstance(targets, Sequence):
        return  # not known yet, or secret: the provider's allowedTargets still checks them
    patterns = list(args.get_config().get("allowedTargets", DEFAULT_ALLOWED))
    for target in targets:
        url = target.get("url") if isinstance(target, Mapping) else None
        if not isinstance(url, str):
            continue
        host = (urlsplit(url).hostname or "").lower()
        if not allowed(host, patterns):
            listed = ", ".join(patterns)
            report(f"{args.name} delivers to {host}, which is not among {listed}", None)


def label_names_owner(args: ResourceValidationArgs, report: ReportViolation) -> None:
    label = args.props.get("label")
    if args.resource_type == WEBHOOK and isinstance(label, str) and not OWNER.search(label):
        report(f"{args.name}: label {label!r} names no owner; add one as @team", None)


PolicyPack(
    name="shoprenter-webhooks",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=[
        ResourceValidationPolicy(
            name="webhook-targets-allowed",
            description="Webhooks deliver only to allowed hosts.",
            validate=targets_allowed,
            config_schema=PolicyConfigSchema(
                properties={
                    "allowedTargets": {
                        "type": "array",
                        "items": {"type": "string"},
                        "default": DEFAULT_ALLOWED,
                    }
                }
            ),
        ),
        ResourceValidationPolicy(
            name="webhook-label-names-owner",
            description="Webhook labels name their owning team as @team.",
            enforcement_level=EnforcementLevel.ADVISORY,
            validate=label_names_owner,
        ),
    ],
)
