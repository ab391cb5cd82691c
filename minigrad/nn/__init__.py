"""minigrad.nn: modules, recurrent cells and layers built only from the engine's primitives."""

from . import functional, init, utils
from .activation import *  # noqa: F403
from .linear import *  # noqa: F403
from .module import Module, ModuleList, Parameter, Sequential
from .normalization import LayerNorm
from .recurrent import *  # noqa: F403

__all__ = ["LayerNorm", "Module", "ModuleList", "Parameter", "Sequential", "functional", "init", "utils"]
__all__ += activation.__all__ + linear.__all__ + recurrent.__all__  # noqa: F405
