"""The Shoprenter API side: settings, auth, the transport and the shop's webhooks.

Settings and credentials (:mod:`.settings`, :mod:`.auth`), the transport that paces, retries
and stops with the engine (:mod:`.pacing`, :mod:`.lifeline`), the client and what its answers
mean (:mod:`.client`, :mod:`.answers`), the shop's listing and the claims that keep each
webhook single (:mod:`.listing`, :mod:`.ledger`), and ``export``. Below the Pulumi side and
the commands; above the core.
"""
