"""tinynet: a from-scratch neural-network framework in NumPy with hand-written backprop and a Keras-shaped API.

    from tinynet import Sequential
    from tinynet.layers import Dense
    from tinynet.losses import SparseCategoricalCrossentropy
    from tinynet.optimizers import Adam
"""

from . import (
               activations,
               backend,
               callbacks,
               config,
               datasets,
               gradcheck,
               initializers,
               inspect,
               layers,
               losses,
               metrics,
               models,
               optimizers,
               regularizers,
               utils,
)
from .callbacks import History
from .layers import Input
from .models import DivergenceError, Sequential
from .saving import load_model

__version__ = "0.1.0"
__all__ = ["Sequential", "Input", "load_model", "History", "DivergenceError", "layers", "losses", "optimizers",
           "initializers", "metrics", "regularizers", "callbacks", "gradcheck", "inspect", "datasets", "activations",
           "backend", "config", "utils", "models"]
