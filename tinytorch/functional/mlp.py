"""The transformer's feed-forward network (MLP) as one fused graph node, in its two forms:

    GPT-2    y = gelu(x W_fc^T + b_fc) W_proj^T + b_proj                      (GeluMLP)
    Llama    y = (silu(x W_gate^T) * (x W_up^T)) W_down^T                     (SwiGLUMLP)

Fusing the whole MLP lets forward keep exactly what backward needs (the activation's
derivative, computed while forward has its intermediate values at hand) and nothing else.
The leading axes of x are folded into rows, so each product is one large matrix product.
"""
from ..autograd import Function
from ..blas import matmul
from .activations import gelu_and_slope, silu_and_slope
from .rowwise import column_sums


class GeluMLP(Function):
    """y = gelu(x @ w_fc^T + b_fc) @ w_proj^T + b_proj for x (..., C), w_fc (F, C) (F = 4C in
    GPT-2), w_proj (C, F).

    With rows X (N, C), H = X w_fc^T + b_fc (N, F), A = gelu(H), G = dL/dy (N, C):
        dL/dw_proj = G^T A,      dL/db_proj = sum of G's rows
        dL/dA = G w_proj,        dL/dH = dL/dA * gelu'(H)
        dL/dw_fc = (dL/dH)^T X,  dL/db_fc = sum of dL/dH's rows,   dL/dX = dL/dH w_fc
    Forward keeps only what that needs: X, A and gelu'(H) (computed while tanh(u) is at hand),
    not H or tanh(u). Biases may be None (bias=False models).
    """

    @staticmethod
    def forward(ctx, x, w_fc, b_fc, w_proj, b_proj):
        rows = x.reshape(-1, x.shape[-1])                      # (N, C)
        hidden = matmul(rows, w_fc.T)                          # (N, F), + b_fc block by block
        act, gelu_slope = gelu_and_slope(hidden, any(ctx.needs_input_grad), bias=b_fc)
        out = matmul(act, w_proj.T)                            # (N, C)
        if b_proj is not None:
            out += b_proj
        if gelu_slope is not None:
            ctx.save_for_backward(rows, act, gelu_slope, w_fc, w_proj)
        ctx.shape = x.shape
        return out.reshape(x.shape[:-1] + (w_proj.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        rows, act, gelu_slope, w_fc, w_proj = ctx.saved_tensors
        need_x, need_w_fc, need_b_fc, need_w_proj, need_b_proj = ctx.needs_input_grad
        grad_out = grad.reshape(-1, grad.shape[-1])            # (N, C)
        grad_w_proj = matmul(grad_out.T, act) if need_w_proj else None
        grad_b_proj = column_sums(grad_out) if need_b_proj else None
        grad_hidden = matmul(grad_out, w_proj)                 # dL/dA, then dL/dH in place
        grad_hidden *= gelu_slope
        grad_w_fc = matmul(grad_hidden.T, rows) if need_w_fc else None
        grad_b_fc = column_sums(grad_hidden) if need_b_fc else None
        grad_x = matmul(grad_hidden, w_fc).reshape(ctx.shape) if need_x else None
        return grad_x, grad_w_fc, grad_b_fc, grad_w_proj, grad_b_proj


class SwiGLUMLP(Function):
    """y = (silu(x @ w_gate^T + b_gate) * (x @ w_up^T + b_up)) @ w_down^T + b_down for
    x (..., C), w_gate and w_up (F, C), w_down (C_out, F); biases may be None (Llama has none).

    With rows X (N, C), the gate Z = X w_gate^T + b_gate and the up projection
    U = X w_up^T + b_up (N, F), A = silu(Z), P = A * U and G = dL/dy (N, C_out):
        dL/dw_down = G^T P,      dL/db_down = sum of G's rows,     dL/dP = G w_down
        dL/dZ = dL/dP * U * silu'(Z),   dL/dU = dL/dP * A          (see `swiglu_backward`)
        dL/dw_gate = (dL/dZ)^T X,  dL/dw_up = (dL/dU)^T X,  biases: sums of those rows
        dL/dX = dL/dZ w_gate + dL/dU w_up                          (x feeds both branches)
    Forward keeps X, U, A and silu'(Z) (computed while the sigmoid is at hand); P = A * U is
    made again in backward rather than kept, one multiplication for N x F numbers of memory.
    """

    @staticmethod
    def forward(ctx, x, w_gate, w_up, w_down, b_gate, b_up, b_down):
        rows = x.reshape(-1, x.shape[-1])                      # (N, C)
        gate = matmul(rows, w_gate.T)                          # (N, F), + b_gate block by block
        up = matmul(rows, w_up.T)                              # (N, F)
        if b_up is not None:
            up += b_up
        act, silu_slope = silu_and_slope(gate, any(ctx.needs_input_grad), bias=b_gate)
        out = matmul(act * up, w_down.T)                       # (N, C_out)
        if b_down is not None:
            out += b_down
        if silu_slope is not None:
            ctx.save_for_backward(rows, up, act, silu_slope, w_gate, w_up, w_down)
        ctx.shape = x.shape
        return out.reshape(x.shape[:-1] + (w_down.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        rows, up, act, silu_slope, w_gate, w_up, w_down = ctx.saved_tensors
        need_x, need_w_gate, need_w_up, need_w_down, need_b_gate, need_b_up, need_b_down = \
            ctx.needs_input_grad
        grad_out = grad.reshape(-1, grad.shape[-1])            # (N, C_out)
        grad_w_down = matmul(grad_out.T, act * up) if need_w_down else None
        grad_b_down = column_sums(grad_out) if need_b_down else None
        grad_gate, grad_up = swiglu_backward(matmul(grad_out, w_down), up, act, silu_slope)
        grad_w_gate = matmul(grad_gate.T, rows) if need_w_gate else None
        grad_b_gate = column_sums(grad_gate) if need_b_gate else None
        grad_w_up = matmul(grad_up.T, rows) if need_w_up else None
        grad_b_up = column_sums(grad_up) if need_b_up else None
        grad_x = None
        if need_x:
            grad_x = matmul(grad_gate, w_gate)
            grad_x += matmul(grad_up, w_up)
            grad_x = grad_x.reshape(ctx.shape)
        return grad_x, grad_w_gate, grad_w_up, grad_w_down, grad_b_gate, grad_b_up, grad_b_down


def swiglu_backward(grad_product, up, act, silu_slope):
    """The gradients through P = silu(Z) * U, all (N, F): given dL/dP, U, A = silu(Z) and
    silu'(Z), returns (dL/dZ, dL/dU). May overwrite grad_product (the caller is done with it)."""
    # BEGIN EXERCISE swiglu_backward: return (dL/dZ, dL/dU) = (dL/dP * U * silu'(Z), dL/dP * A), all (N, F)
    grad_up = grad_product * act
    grad_gate = grad_product
    grad_gate *= up
    grad_gate *= silu_slope
    return grad_gate, grad_up
    # END EXERCISE swiglu_backward
