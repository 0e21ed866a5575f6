"""Sums along the rows and columns of a matrix, done as matrix-vector products.

np.sum(x, axis=1) on a (N, D) matrix with short rows handles one row at a time; the product
x @ ones(D) gives the same sums through BLAS, several times faster (0.007 vs 0.038 ms for
768 x 128 float32 here). The fused kernels use these for their reductions.
"""
import numpy as np


def row_sums(rows):
    """The sum of each row of a matrix (N, D): (N,)."""
    return rows @ np.ones(rows.shape[1], rows.dtype)


def row_means(rows):
    """The mean of each row of a matrix (N, D): (N,)."""
    return rows @ np.full(rows.shape[1], 1.0 / rows.shape[1], rows.dtype)


def row_dots(a, b):
    """sum(a * b) over each row of two matrices (N, D), without forming a * b: (N,)."""
    return np.einsum("ij,ij->i", a, b)


def column_sums(rows):
    """The sum of each column of a matrix (N, D): (D,)."""
    return np.ones(rows.shape[0], rows.dtype) @ rows
