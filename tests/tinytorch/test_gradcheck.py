"""tt.gradcheck itself: it must pass right gradients, catch wrong ones and say where."""
import re

import numpy as np
import pytest

import tinytorch as tt


def leaf(values):
    return tt.tensor(values, dtype=np.float64, requires_grad=True)


class ProductWrongAtOneElement(tt.Function):
    """a * b, whose backward adds a deliberate error of 1 to b's gradient at element (1, 2)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        grad_b = grad * a
        grad_b[1, 2] += 1.0
        return grad * b, grad_b


def test_a_right_gradient_passes():
    a, b = leaf(np.random.default_rng(0).standard_normal((2, 3))), leaf([1.0, 2.0, 3.0])
    assert tt.gradcheck(lambda a, b: (a * b).tanh(), [a, b]) is True


def test_a_wrong_gradient_names_the_input_the_element_both_values_and_the_error():
    a = leaf(np.random.default_rng(1).standard_normal((2, 3)))
    b = leaf(np.random.default_rng(2).standard_normal((2, 3)))
    with pytest.raises(tt.GradcheckError) as failure:
        tt.gradcheck(ProductWrongAtOneElement.apply, [a, b])
    message = str(failure.value)
    assert "input 1" in message and "(1, 2)" in message, message

    # gradcheck reduces the output to sum(out * r) with r drawn from default_rng(seed=0), so
    # the true derivative for b[1, 2] is r[1, 2] * a[1, 2]; backward claims 1 more.
    r = np.random.default_rng(0).standard_normal((2, 3))
    true = r[1, 2] * a.data[1, 2]
    found = dict(re.findall(r"(analytic|numeric|relative error) (-?[\d.e+-]+)", message))
    assert float(found["analytic"]) == pytest.approx(true + 1.0, rel=1e-6)
    assert float(found["numeric"]) == pytest.approx(true, rel=1e-6)
    assert float(found["relative error"]) == pytest.approx(1.0 / abs(true), rel=1e-3)


class ConstantWithAGradient(tt.Function):
    """x * 0, whose backward wrongly claims the gradient 2: the numeric one is exactly 0."""

    @staticmethod
    def forward(ctx, x):
        return x * 0.0

    @staticmethod
    def backward(ctx, grad):
        return grad * 0.0 + 2.0


def test_where_the_numeric_gradient_is_zero_the_error_is_absolute():
    with pytest.raises(tt.GradcheckError) as failure:
        tt.gradcheck(lambda x: ConstantWithAGradient.apply(x).sum(), [leaf([1.0, -2.0])])
    message = str(failure.value)
    assert "numeric 0, absolute error 2 (the numeric gradient is 0)" in message, message
    assert "relative error" not in message


def test_a_gradcheck_error_is_an_assertion_error():
    """So a failing check inside a test reads as a test failure, not a crash."""
    assert issubclass(tt.GradcheckError, AssertionError)


def test_float32_inputs_are_refused_with_the_reason():
    x = tt.tensor([1.0, 2.0], dtype=np.float32, requires_grad=True)
    with pytest.raises(TypeError, match=r"input 0 is float32.*float64.*digits"):
        tt.gradcheck(lambda x: x * x, [x])


def test_nothing_to_check_is_an_error():
    with pytest.raises(ValueError, match="requires_grad"):
        tt.gradcheck(lambda x: x * 2.0, [tt.tensor([1.0], dtype=np.float64)])


def test_n_samples_checks_that_many_elements():
    calls = []

    def counted(x):
        calls.append(1)
        return x * x

    tt.gradcheck(counted, [leaf(np.arange(100.0))], n_samples=5)
    assert len(calls) == 1 + 2 * 5            # one pass for backward, two per element checked

    calls.clear()
    tt.gradcheck(counted, [leaf(np.arange(4.0))], n_samples=50)      # fewer elements: all
    assert len(calls) == 1 + 2 * 4


def test_n_samples_only_sees_the_elements_it_samples():
    class WrongAtFirstElement(tt.Function):
        @staticmethod
        def forward(ctx, x):
            return 2.0 * x

        @staticmethod
        def backward(ctx, grad):
            grad_x = 2.0 * grad
            grad_x[0] += 1.0
            return grad_x

    x = leaf(np.ones(1000))
    with pytest.raises(tt.GradcheckError, match=r"element \(0,\)"):
        tt.gradcheck(WrongAtFirstElement.apply, [x])
    # 3 of 1000 elements: with the default seed the wrong one is not among them
    assert tt.gradcheck(WrongAtFirstElement.apply, [x], n_samples=3)


def test_tolerances():
    class SlightlyWrong(tt.Function):
        @staticmethod
        def forward(ctx, x):
            return 3.0 * x

        @staticmethod
        def backward(ctx, grad):
            return 3.0 * (1.0 + 1e-4) * grad       # relative error 1e-4

    x = leaf([1.0, -2.0, 3.0])
    assert tt.gradcheck(SlightlyWrong.apply, [x])                       # rtol=1e-3
    with pytest.raises(tt.GradcheckError):
        tt.gradcheck(SlightlyWrong.apply, [x], rtol=1e-6, atol=1e-9)


def test_several_outputs_and_non_tensor_arguments():
    x = leaf([[1.0, 2.0], [3.0, 4.0]])
    constant = tt.tensor([0.5, -1.0], dtype=np.float64)         # not checked
    assert tt.gradcheck(lambda x, c, power: (x ** power * c, x.sum(dim=0)),
                        [x, constant, 3])


def test_inputs_come_back_unchanged():
    x = leaf(np.random.default_rng(3).standard_normal((3, 2)).T)    # not contiguous
    scalar = leaf(1.5)
    values = x.data.copy()
    tt.gradcheck(lambda x, s: x * s, [x, scalar])
    np.testing.assert_array_equal(x.data, values)
    assert scalar.shape == () and scalar.item() == 1.5
    assert x.grad is None and scalar.grad is None
