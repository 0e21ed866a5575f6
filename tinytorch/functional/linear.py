"""Fused affine map: x @ weight^T + bias as one graph node."""
from ..autograd import Function
from ..blas import matmul
from .rowwise import column_sums


class Linear(Function):
    """y = x @ weight^T + bias for x (..., in), weight (out, in) as in PyTorch, bias (out,).

    The leading axes are folded into rows, so forward and backward are each one large matrix
    product. With rows X (N, in) and G = dL/dy (N, out):
        dL/dX = G @ weight,   dL/dweight = G^T @ X,   dL/dbias = sum of G's rows.
    """

    @staticmethod
    def forward(ctx, x, weight, bias):
        rows = x.reshape(-1, x.shape[-1])
        out = matmul(rows, weight.T)
        if bias is not None:
            out += bias
        ctx.save_for_backward(rows, weight)
        ctx.shape = x.shape
        return out.reshape(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, grad):
        rows, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad
        grad_rows = grad.reshape(-1, weight.shape[0])
        grad_x = matmul(grad_rows, weight).reshape(ctx.shape) if need_x else None
        grad_weight = matmul(grad_rows.T, rows) if need_weight else None
        grad_bias = column_sums(grad_rows) if need_bias else None
        return grad_x, grad_weight, grad_bias
