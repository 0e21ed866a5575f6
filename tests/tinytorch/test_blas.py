"""tinytorch.blas: the same numbers as `@`, one OpenBLAS thread for small products, and the
process's thread setting restored after every product."""
import numpy as np
import pytest

from tinytorch import blas


class FakeOpenBLAS:
    """Stands in for OpenBLAS's thread getter and setter, recording every setting."""

    def __init__(self, threads):
        self.threads, self.settings = threads, []

    def get(self):
        return self.threads

    def set(self, n):
        self.settings.append(n)
        self.threads = n


@pytest.fixture
def fake(monkeypatch):
    fake = FakeOpenBLAS(threads=4)
    monkeypatch.setattr(blas, "_THREADS", (fake.get, fake.set))
    return fake


SHAPES = [((5, 3), (3, 4)), ((2, 5, 3), (3, 4)), ((2, 1, 5, 3), (3, 3, 4)), ((3,), (3, 4)),
          ((5, 3), (3,)), ((3,), (3,)), ((0, 3), (3, 2))]


@pytest.mark.parametrize("a_shape, b_shape", SHAPES)
def test_the_same_numbers_as_the_operator(a_shape, b_shape):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(a_shape), rng.standard_normal(b_shape)
    np.testing.assert_array_equal(blas.matmul(a, b), a @ b)
    np.testing.assert_array_equal(blas.matmul(b.T, a.T) if a.ndim == b.ndim == 2 else 0,
                                  (b.T @ a.T) if a.ndim == b.ndim == 2 else 0)


def test_a_small_product_runs_on_one_thread_and_the_setting_comes_back(fake):
    a, b = np.ones((64, 32)), np.ones((32, 64))                 # 131,072 multiply-adds
    blas.matmul(a, b)
    assert fake.settings == [1, 4] and fake.threads == 4


def test_a_product_openblas_never_splits_changes_nothing(fake):
    blas.matmul(np.ones((16, 24)), np.ones((24, 24)))           # 9,216 multiply-adds
    blas.matmul(np.ones((96, 96)), np.ones(96))
    assert fake.settings == []


def test_a_large_product_keeps_the_process_setting(fake, monkeypatch):
    monkeypatch.setattr(blas, "SINGLE_THREAD_BELOW", 64 * 32 * 64)
    blas.matmul(np.ones((64, 32)), np.ones((32, 64)))         # exactly the threshold
    assert fake.settings == []
    blas.matmul(np.ones((64, 32)), np.ones((32, 63)))         # one column fewer
    assert fake.settings == [1, 4]


def test_the_size_is_per_matrix_of_a_batch_and_vectors_count_as_one_column(fake, monkeypatch):
    monkeypatch.setattr(blas, "SINGLE_THREAD_BELOW", 100_000)
    blas.matmul(np.ones((50, 50, 40)), np.ones((50, 40, 50)))   # 100,000 per matrix: as set
    assert fake.settings == []
    blas.matmul(np.ones((100, 999)), np.ones(999))              # 99,900: one thread
    blas.matmul(np.ones(999), np.ones((999, 100)))
    assert fake.settings == [1, 4, 1, 4]


def test_a_few_rows_streaming_a_large_matrix_keep_the_process_setting(fake, monkeypatch):
    """Decoding one token reads each weight matrix once: memory-bound, so both threads."""
    monkeypatch.setattr(blas, "STREAMING_ELEMENTS", 10_000)
    monkeypatch.setattr(blas, "STREAMING_ROWS", 4)
    blas.matmul(np.ones((4, 100)), np.ones((100, 100)))         # 4 rows, 10,000 numbers
    blas.matmul(np.ones(100), np.ones((100, 100)))              # a vector is one row
    blas.matmul(np.ones((3, 4, 100)), np.ones((100, 100)))      # per matrix of a batch
    assert fake.settings == []
    blas.matmul(np.ones((5, 100)), np.ones((100, 100)))         # one row too many
    blas.matmul(np.ones((4, 100)), np.ones((100, 99)))          # a matrix too small
    blas.matmul(np.ones((400, 100)), np.ones(100))              # 400 rows by a vector
    assert fake.settings == [1, 4, 1, 4, 1, 4]


def test_a_failing_product_still_restores_the_setting(fake):
    with pytest.raises(ValueError):
        blas.matmul(np.ones((200, 300)), np.ones((400, 200)))
    assert fake.settings == [1, 4] and fake.threads == 4


def test_a_process_already_on_one_thread_is_left_alone(fake):
    fake.threads = 1
    blas.matmul(np.ones((40, 40)), np.ones((40, 40)))
    assert fake.settings == []


def test_without_openblas_nothing_is_touched(monkeypatch):
    monkeypatch.setattr(blas, "_THREADS", None)
    a = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(blas.matmul(a, a.T), a @ a.T)


def test_numpys_own_openblas_is_found_and_its_setting_restored():
    """With NumPy's wheels (OpenBLAS) the setter must be found, or nothing would change; a
    real product then leaves the thread count as it found it."""
    name = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    found = blas.openblas_threads()
    assert (found is not None) == ("openblas" in name.lower())
    if found is not None:
        get, _ = found
        before = get()
        blas.matmul(np.ones((8, 8), np.float32), np.ones((8, 8), np.float32))
        assert get() == before
