"""The release and the distribution's name: a leaf every module may import (the package's
``__init__`` re-exports them), so no module imports back up into its own package."""

__version__ = "1.3.0"
DISTRIBUTION = "shoprenter-webhooks"
