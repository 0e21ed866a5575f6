"""Matrix multiplication, the op a transformer spends almost all its time in."""
from ..autograd import Function


class MatMul(Function):
    """a @ b for a (..., n, k) and b (..., k, m); batch dims broadcast; 1-D operands as in NumPy.

    For out = a @ b:  grad_a = grad @ b^T  and  grad_b = a^T @ grad.
    A 1-D a is a row (1, k) and a 1-D b a column (k, 1), removed again from the result.
    When b is a plain matrix and a has batch dims (activations times a weight), the batch is
    folded into the rows: one large matrix product instead of many small ones, and grad_b comes
    out already summed over the batch. Backward may instead return grad_b with a's batch dims,
    (..., k, m): the engine sums it over dims that broadcasting added. It returns new arrays
    and writes into neither `grad` nor the saved a and b.
    Both directions are NumPy's `@`, on NumPy's BLAS threads: the fused kernels are where the
    library chooses a thread count per product (tinytorch.blas).
    """

    @staticmethod
    def forward(ctx, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("cannot multiply a 0-d array; use * for scalars")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"cannot multiply {a.shape} by {b.shape}: inner dimensions "
                             f"{a.shape[-1]} and {b.shape[-2 if b.ndim > 1 else 0]} differ")
        ctx.save_for_backward(a, b)
        if b.ndim == 2 and a.ndim > 2:
            return (a.reshape(-1, a.shape[-1]) @ b).reshape(*a.shape[:-1], b.shape[-1])
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        # BEGIN EXERCISE matmul_backward: grad_a = grad @ b^T, grad_b = a^T @ grad (mind 1-D)
        a, b = ctx.saved_tensors
        need_a, need_b = ctx.needs_input_grad
        a_is_vector, b_is_vector = a.ndim == 1, b.ndim == 1
        # b first: for a dot product grad is 0-d, and only gets an axis for a to index here.
        if b_is_vector:                      # a column vector: put back the m axis
            b, grad = b[:, None], grad[..., None]
        if a_is_vector:                      # a row vector: put back the n axis it lacks
            a, grad = a[None, :], grad[..., None, :]
        if b.ndim == 2 and a.ndim > 2:
            rows_a, rows_grad = a.reshape(-1, a.shape[-1]), grad.reshape(-1, grad.shape[-1])
            grad_a = (rows_grad @ b.T).reshape(a.shape) if need_a else None
            grad_b = rows_a.T @ rows_grad if need_b else None
        else:
            grad_a = grad @ b.swapaxes(-1, -2) if need_a else None
            grad_b = a.swapaxes(-1, -2) @ grad if need_b else None
        if a_is_vector and grad_a is not None:
            grad_a = grad_a[..., 0, :]
        if b_is_vector and grad_b is not None:
            grad_b = grad_b[..., 0]
        return grad_a, grad_b                # the engine sums over broadcast batch dims
        # END EXERCISE matmul_backward
