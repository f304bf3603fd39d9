"""A Shoprenter API simulator on loopback: the demo's shop and the tests' shop.

Run it with ``python -m sandbox.simulator --port 8765``; use it in-process with
``with Simulator() as sim: ...``.
"""

from .control import SimulatorControl
from .server import Simulator
from .shop import Shop

__all__ = ["Shop", "Simulator", "SimulatorControl"]
