"""The optimizers' flat buffers (tinytorch.flat_parameters): one array per group for the
parameters, one for their gradients and one per state, and every way of replacing a
parameter's array still leaves the optimizer updating the live parameters."""
import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from tinytorch import nn
from tinytorch.flat_parameters import FlatParameters
from tinytorch.optim import adam_update


def mlp(seed=0, dtype=np.float32):
    generator = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(3, 5, generator=generator, dtype=dtype), nn.GELU(),
                         nn.LayerNorm(5, dtype=dtype),
                         nn.Linear(5, 2, generator=generator, dtype=dtype))


def groups(model):
    """Weights with decay, biases and gains without: two groups, interleaved in the model."""
    params = list(model.parameters())
    return [{"params": [p for p in params if p.ndim == 2]},
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]


def batch(seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((4, 3)).astype(dtype), rng.integers(0, 2, 4)


def loss_of(model, seed):
    x, y = batch(seed, model[0].weight.dtype)
    return F.cross_entropy(model(tt.tensor(x)), y)


def train(model, optimizer, seeds):
    for seed in seeds:
        optimizer.zero_grad()
        loss_of(model, seed).backward()
        optimizer.step()


def reference_adamw(values, grads, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                    weight_decay=0.01):
    """AdamW as it was before the flat buffers: `adam_update` on each parameter's own arrays.
    values, grads: {name: array}; grads is a function of (step, values) -> {name: grad}."""
    values = {name: v.copy() for name, v in values.items()}
    m = {name: np.zeros_like(v) for name, v in values.items()}
    v2 = {name: np.zeros_like(v) for name, v in values.items()}
    for step in range(1, steps + 1):
        g = grads(step, values)
        for name in values:
            adam_update(values[name], g[name], m[name], v2[name], np.empty_like(values[name]),
                        step, lr, *betas, eps, weight_decay[name] if isinstance(weight_decay, dict)
                        else weight_decay, True)
    return values


def test_each_group_lives_in_one_array_and_a_step_gathers_its_gradients_into_another():
    model = mlp()
    optimizer = tt.optim.AdamW(groups(model), lr=0.01)
    for group, flat in zip(optimizer.param_groups, optimizer._flat):
        assert all(p.data.base is flat.data for p in group["params"])
        assert flat.data.size == sum(p.numel() for p in group["params"])
    loss_of(model, 0).backward()
    backwards_own = {p: p.grad for p in model.parameters()}
    for group, flat in zip(optimizer.param_groups, optimizer._flat):
        flat.gather(optimizer.state)
        # the gradients lie end to end: the buffer is their concatenation
        np.testing.assert_array_equal(flat.grad, np.concatenate([p.grad.ravel()
                                                                 for p in group["params"]]))
        assert all(p.grad is backwards_own[p] for p in group["params"])


def test_an_optimizer_changes_no_gradient_backward_computes_or_accumulates():
    plain, flat = mlp(), mlp()
    tt.optim.SGD(flat.parameters(), lr=0.1)                  # puts flat's parameters in a buffer
    for model in (plain, flat):
        loss_of(model, 0).backward()
        loss_of(model, 1).backward()                         # accumulates
    for a, b in zip(plain.parameters(), flat.parameters()):
        np.testing.assert_array_equal(a.grad, b.grad)
        assert a.grad.dtype == b.grad.dtype == np.float32


def test_a_gradient_the_caller_kept_is_never_overwritten():
    """As in PyTorch: after zero_grad (or grad = None) the next backward gives a fresh array,
    and a step only reads it."""
    w, b = nn.Parameter(np.ones(3)), nn.Parameter(np.zeros(2))
    optimizer = tt.optim.SGD([w, b], lr=0.1)
    (w * 2.0).sum().backward()
    first = w.grad
    optimizer.step()
    optimizer.zero_grad()
    (w * 5.0).sum().backward()
    optimizer.step()
    assert first.tolist() == [2.0, 2.0, 2.0] and w.grad.tolist() == [5.0, 5.0, 5.0]
    kept = []
    for c in (1.0, 2.0, 3.0):
        w.grad = None
        (w * c).sum().backward()
        kept.append(w.grad)
        optimizer.step()
    assert [g.tolist() for g in kept] == [[1.0] * 3, [2.0] * 3, [3.0] * 3]


@pytest.mark.parametrize("make", [
    lambda params: tt.optim.AdamW(params, lr=0.01, weight_decay=0.1),
    lambda params: tt.optim.Adam(params, lr=0.01, weight_decay=0.1),
    lambda params: tt.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda params: tt.optim.SGD(params, lr=0.1),
])
def test_a_flat_step_is_bit_identical_to_one_parameter_at_a_time(make):
    """Elementwise arithmetic gives each element the same operations whatever the layout:
    the flat step must reproduce, bit for bit, the same optimizer on a group that cannot be
    flat (one float64 parameter among float32 ones keeps each parameter in its own arrays)."""
    flat_model, loose_model = mlp(), mlp()
    odd = nn.Parameter(np.ones(3))                           # float64: the group stays loose
    odd.requires_grad = False
    flat_opt = make(groups(flat_model))
    loose_opt = make([groups(loose_model)[0], {**groups(loose_model)[1],
                                               "params": groups(loose_model)[1]["params"] + [odd]}])
    assert all(f.flat for f in flat_opt._flat) and not loose_opt._flat[1].flat
    train(flat_model, flat_opt, range(4))
    train(loose_model, loose_opt, range(4))
    for a, b in zip(flat_model.parameters(), loose_model.parameters()):
        assert (a.data == b.data).all()


def test_parameters_without_gradients_split_the_runs_and_stay_unchanged():
    params = [nn.Parameter(np.full(n, float(n))) for n in (2, 3, 4, 5)]
    optimizer = tt.optim.AdamW(params, lr=0.1, weight_decay=0.0)
    params[0].grad, params[2].grad = np.ones(2), np.ones(4)
    optimizer.step()
    assert list(optimizer.state) == [params[0], params[2]]
    np.testing.assert_allclose(params[0].data, 2.0 - 0.1, rtol=1e-8)   # Adam: lr sign(g)
    np.testing.assert_allclose(params[2].data, 4.0 - 0.1, rtol=1e-8)
    assert params[1].data.tolist() == [3.0] * 3 and params[3].data.tolist() == [5.0] * 5
    # later, all four: params 1 and 3 take their first step, 0 and 2 their second
    for p in params:
        p.grad = np.ones(p.shape)
    optimizer.step()
    assert [optimizer.state[p]["step"] for p in params] == [2, 1, 2, 1]
    np.testing.assert_allclose(params[1].data, 3.0 - 0.1, rtol=1e-8)
    np.testing.assert_allclose(params[3].data, 5.0 - 0.1, rtol=1e-8)
    np.testing.assert_allclose(optimizer.state[params[1]]["exp_avg"], 0.1, rtol=1e-12)


def test_after_load_state_dict_the_optimizer_updates_the_loaded_parameters():
    model = mlp()
    optimizer = tt.optim.AdamW(model.parameters(), lr=0.01, weight_decay=0.0)
    new_values = {name: np.full(p.shape, 0.5, p.dtype) for name, p in model.named_parameters()}
    model.load_state_dict(new_values)          # rebinds each .data to a fresh array
    loss = loss_of(model, 0)
    optimizer.zero_grad()
    loss.backward()
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    optimizer.step()
    expected = reference_adamw(new_values, lambda step, values: grads, 1, lr=0.01,
                               weight_decay=0.0)
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, expected[name])
        assert p.data.base is optimizer._flat[0].data          # back in the buffer


def test_after_to_float64_the_optimizer_updates_the_float64_parameters():
    model = mlp()
    optimizer = tt.optim.AdamW(model.parameters(), lr=0.01)
    train(model, optimizer, [0])
    state = {name: optimizer.state[p]["exp_avg"].copy() for name, p in model.named_parameters()}
    model.to(np.float64)
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    optimizer.zero_grad()
    loss_of(model, 1).backward()
    optimizer.step()
    for name, p in model.named_parameters():
        assert p.dtype == np.float64 and optimizer.state[p]["exp_avg"].dtype == np.float64
        assert not (p.data == before[name]).all(), name              # it moved
        assert p.data.base is optimizer._flat[0].data
        # the first moment carried over: 0.9 m + 0.1 g, in float64 now
        np.testing.assert_allclose(optimizer.state[p]["exp_avg"],
                                   0.9 * state[name] + 0.1 * p.grad, rtol=1e-6, atol=1e-9)


def test_gradients_and_data_set_by_hand_are_used():
    p = nn.Parameter(np.array([1.0, -2.0]))
    optimizer = tt.optim.SGD([p], lr=0.1)
    p.data = np.array([10.0, 20.0])                      # a new array, by hand
    p.grad = np.array([1.0, 2.0])                        # a gradient from elsewhere
    optimizer.step()
    np.testing.assert_allclose(p.data, [9.9, 19.8], rtol=1e-15)
    p.grad = None
    p.data[...] = 0.0                                    # in place: already the buffer
    p.grad = np.array([1.0, 1.0])
    optimizer.step()
    np.testing.assert_allclose(p.data, [-0.1, -0.1], rtol=1e-15)


def test_a_state_loaded_from_a_file_takes_over_the_buffers(tmp_path):
    """Resume: a fresh optimizer loads another's state; the moments it continues from are
    the loaded ones (exp_avg is in the buffer afterwards), so the runs continue bit-identically."""
    model = mlp()
    optimizer = tt.optim.AdamW(groups(model), lr=0.01)
    train(model, optimizer, [0, 1])
    tt.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "c.npz")
    train(model, optimizer, [2, 3])

    saved = tt.load(tmp_path / "c.npz")
    resumed = mlp(seed=5)
    resumed_optimizer = tt.optim.AdamW(groups(resumed), lr=0.01)
    train(resumed, resumed_optimizer, [7])          # state of its own, to be replaced
    resumed.load_state_dict(saved["model"])
    resumed_optimizer.load_state_dict(saved["optimizer"])
    train(resumed, resumed_optimizer, [2, 3])
    for a, b in zip(model.parameters(), resumed.parameters()):
        assert (a.data == b.data).all()
    for p in resumed.parameters():
        assert resumed_optimizer.state[p]["exp_avg"].base is not None     # a view again


def test_a_parameter_in_two_optimizers_is_updated_by_both():
    p = nn.Parameter(np.array([1.0, 2.0]))
    first = tt.optim.SGD([p], lr=0.1)
    second = tt.optim.SGD([p, nn.Parameter(np.zeros(1))], lr=1.0)    # takes p into its buffer
    p.grad = np.array([1.0, 1.0])
    first.step()
    np.testing.assert_allclose(p.data, [0.9, 1.9], rtol=1e-15)
    second.step()
    np.testing.assert_allclose(p.data, [-0.1, 0.9], rtol=1e-15)


def test_a_parameter_list_changed_after_the_optimizer_was_made_is_followed():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    optimizer = tt.optim.SGD([a], lr=0.5)
    optimizer.param_groups[0]["params"].append(b)
    a.grad, b.grad = np.ones(2), np.ones(3)
    optimizer.step()
    assert a.data.tolist() == [0.5, 0.5] and b.data.tolist() == [0.5, 0.5, 0.5]


def test_a_group_appended_to_param_groups_by_hand_is_updated():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    optimizer = tt.optim.SGD([a], lr=0.5)
    optimizer.param_groups.append({"params": [b], "lr": 0.25, "momentum": 0.0,
                                   "weight_decay": 0.0})
    a.grad, b.grad = np.ones(2), np.ones(3)
    optimizer.step()
    assert a.data.tolist() == [0.5, 0.5] and b.data.tolist() == [0.75, 0.75, 0.75]


def test_state_views_handed_out_again_start_at_zero():
    p = nn.Parameter(np.ones(2))
    flat = FlatParameters([p])
    view = flat.state_view("exp_avg", p)
    view[...] = 3.0
    assert flat.state_view("exp_avg", p).tolist() == [0.0, 0.0]


def test_integer_and_mixed_groups_stay_as_they_are():
    ints = FlatParameters([tt.tensor(np.arange(3))])
    mixed = FlatParameters([nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.ones(2))])
    assert not ints.flat and not mixed.flat
    assert mixed.params[0].data.base is None                # untouched
