"""The primitive ops, one `Function` each. `Tensor`'s methods and operators call these."""
from .elementwise import Add, Cast, Div, Exp, Log, Mul, Neg, Pow, ReLU, Sigmoid, Sqrt, Sub, Tanh
from .indexing import Cat, GetItem, MaskedFill, Split, Stack, Where
from .matmul import MatMul
from .reduce import Max, Mean, Sum, Var
from .shape import Expand, Permute, Reshape, Transpose

__all__ = [
    "Add", "Cast", "Div", "Exp", "Log", "Mul", "Neg", "Pow", "ReLU", "Sigmoid", "Sqrt", "Sub",
    "Tanh", "Cat", "GetItem", "MaskedFill", "Split", "Stack", "Where", "MatMul", "Max", "Mean",
    "Sum", "Var", "Expand", "Permute", "Reshape", "Transpose",
]
