"""``tinynet.config``: the global settings of :mod:`tinynet.backend` under Keras's other name for them."""

from .backend import floatx, set_floatx, set_random_seed

__all__ = ["floatx", "set_floatx", "set_random_seed"]
