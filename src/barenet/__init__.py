"""barenet: neural networks from scratch in NumPy, every gradient written by hand and verified.

    import barenet as bn
    model = bn.MLP([784, 128, 64, 10], activation="relu", seed=0)
    model.compile(loss="softmax_cross_entropy", optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    model.fit(x, y, epochs=10, batch_size=128)
"""

from . import activations, callbacks, data, datasets, errors, initializers, layers, losses, optimizers, schedules
from .errors import BarenetError, BarenetWarning
from .model import MLP, Sequential
from .serialization import load

__version__ = "0.1.0"

__all__ = [
    "MLP", "Sequential", "load", "BarenetError", "BarenetWarning",
    "activations", "callbacks", "data", "datasets", "errors", "initializers", "layers", "losses", "optimizers",
    "schedules",
]
