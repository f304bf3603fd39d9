"""What the fleet's report says of a shop whose run failed: the CLI's own words, the
specific error first, never only the engine's generic closing line."""

from __future__ import annotations

import pytest

from provider.fleet import error_message

DECLARATION_ERROR = """
Diagnostics:
  pulumi:pulumi:Stack (shoprenter-webhooks-shop-a):
    error: invalid webhook declarations:
      - webhooks[0] (erp): the name is declared already by webhooks.yaml: webhooks[0] (erp)

    error: an unhandled error occurred: program exited with non-zero exit code: 1
"""


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (
            DECLARATION_ERROR,
            "error: invalid webhook declarations: - webhooks[0] (erp): the name is declared "
            "already by webhooks.yaml: webhooks[0] (erp)",
        ),
        (
            "error: an unhandled error occurred: program exited with non-zero exit code: 1\n",
            "error: an unhandled error occurred: program exited with non-zero exit code: 1",
        ),
        (
            "error: the stack is currently locked by 1 lock(s)\n",
            "error: the stack is currently locked by 1 lock(s)",
        ),
        ("something broke\nfor good\n", "for good"),
        ("", "failed"),
    ],
    ids=["declaration-error", "only-generic", "locked", "no-error-line", "empty"],
)
def test_the_specific_error_is_reported(output: str, message: str) -> None:
    assert error_message(output) == message
