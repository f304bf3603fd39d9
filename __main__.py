"""The default Pulumi program: the webhooks declared in stack config become resources."""

from pathlib import Path

from provider.program import main

main(Path(__file__).resolve().parent)
