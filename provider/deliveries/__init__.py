"""The delivery side: what Shoprenter sends, from either end.

The payload builder (:mod:`.builder`), test deliveries (:mod:`.trigger`), a local listener
(:mod:`.listen`) and the receiver's parser (:mod:`.receive`, public as
``shoprenter_webhooks.receive``). It imports neither Pulumi nor requests: a receiver installs
it without them.
"""
