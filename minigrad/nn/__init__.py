"""minigrad.nn: modules, recurrent cells and layers built only from the engine's primitives."""

from . import functional
from .module import Module, ModuleList, Parameter, Sequential

__all__ = ["Module", "ModuleList", "Parameter", "Sequential", "functional"]
