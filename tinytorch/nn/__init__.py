"""Layers and the Module base class, as in `torch.nn`."""
from . import init, utils
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, RMSNorm, SiLU
from .module import Module, ModuleList, Parameter, Sequential, evaluating

__all__ = ["Module", "Parameter", "ModuleList", "Sequential", "Linear", "Embedding",
           "LayerNorm", "RMSNorm", "Dropout", "GELU", "SiLU", "evaluating", "init", "utils"]
