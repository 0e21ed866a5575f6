"""The transformer block's MLP, c_fc -> GELU -> c_proj, as one fused graph node."""
from tinytorch import Function
from tinytorch.functional.activations import gelu_and_slope
from tinytorch.functional.rowwise import column_sums


class FusedMLP(Function):
    """y = gelu(x @ w_fc^T + b_fc) @ w_proj^T + b_proj for x (..., C), w_fc (4C, C), w_proj (C, 4C).

    With rows X (N, C), H = X w_fc^T + b_fc (N, 4C), A = gelu(H), G = dL/dy (N, C):
        dL/dw_proj = G^T A,      dL/db_proj = sum of G's rows
        dL/dA = G w_proj,        dL/dH = dL/dA * gelu'(H)
        dL/dw_fc = (dL/dH)^T X,  dL/db_fc = sum of dL/dH's rows,   dL/dX = dL/dH w_fc
    Forward keeps only what that needs: X, A and gelu'(H) (computed while tanh(u) is at hand),
    not H or tanh(u). Biases may be None (bias=False models).
    """

    @staticmethod
    def forward(ctx, x, w_fc, b_fc, w_proj, b_proj):
        rows = x.reshape(-1, x.shape[-1])                      # (N, C)
        hidden = rows @ w_fc.T                                 # (N, 4C)
        if b_fc is not None:
            hidden += b_fc
        act, gelu_slope = gelu_and_slope(hidden, need_slope=any(ctx.needs_input_grad))
        out = act @ w_proj.T                                   # (N, C)
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
        grad_w_proj = grad_out.T @ act if need_w_proj else None
        grad_b_proj = column_sums(grad_out) if need_b_proj else None
        grad_hidden = grad_out @ w_proj                        # dL/dA, then dL/dH in place
        grad_hidden *= gelu_slope
        grad_w_fc = grad_hidden.T @ rows if need_w_fc else None
        grad_b_fc = column_sums(grad_hidden) if need_b_fc else None
        grad_x = (grad_hidden @ w_fc).reshape(ctx.shape) if need_x else None
        return grad_x, grad_w_fc, grad_b_fc, grad_w_proj, grad_b_proj
