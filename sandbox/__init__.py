"""Everything that is not the product: a simulated Shoprenter shop and a local Pulumi engine.

The tests, ``make demo`` and ``make bench`` use it; ``provider/`` never imports it, and the
simulator keeps its own reading of the API so that it checks the provider instead of echoing it.
"""
