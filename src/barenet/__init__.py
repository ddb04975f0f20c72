"""barenet: neural networks from scratch in NumPy, every gradient written by hand and verified.

    import barenet as bn
    model = bn.MLP([784, 128, 64, 10], activation="relu", seed=0)
    model.compile(loss="softmax_cross_entropy", optimizer=bn.optimizers.SGD(lr=0.1, momentum=0.9))
    model.fit(x, y, epochs=10, batch_size=128)

The packages, each importing only those listed after it (docs/ARCHITECTURE.md):
cli, apps, pytorch, runs, models, training, data, nn, optim, io, and the base modules
errors, backend, registry, version.
"""

import sys as _sys

from . import data, datasets, errors, kernels
from .data.augment import Augment
from .errors import BarenetError, BarenetWarning
from .models.loading import load
from .models.mlp import MLP
from .models.sequential import Sequential
from .nn import functional as activations
from .nn import initializers, layers, losses
from .optim import optimizers, schedules
from .pytorch import parity
from .training import callbacks
from .training.diagnoses import Diagnosis
from .training.doctor import Doctor
from .training.trainer import Trainer
from .version import __version__

# The flat module names of barenet 0.1 (`from barenet.layers import Dense`, `barenet.callbacks`)
# keep working: each is the module that now holds that code.
for _name, _module in {"activations": activations, "callbacks": callbacks, "initializers": initializers,
                       "layers": layers, "losses": losses, "optimizers": optimizers, "parity": parity,
                       "schedules": schedules}.items():
    _sys.modules[f"{__name__}.{_name}"] = _module
del _name, _module

__all__ = [
    "MLP", "Sequential", "Trainer", "Doctor", "Diagnosis", "Augment", "load", "BarenetError", "BarenetWarning",
    "__version__",
    "activations", "callbacks", "data", "datasets", "errors", "initializers", "kernels", "layers", "losses",
    "optimizers",
    "parity", "schedules",
]
