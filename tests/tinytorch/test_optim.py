"""Optimizers against updates worked out by hand, parameter groups, resuming, the schedule."""
import math

import numpy as np
import pytest

import tinytorch as tt
from tinytorch.nn import Parameter

# Two steps on p = [1, -2] (float64) with these gradients, in every hand-worked case below.
GRADS = [np.array([0.5, 1.0]), np.array([-1.0, 0.5])]


def run(optimizer_class, steps=GRADS, **kwargs):
    p = Parameter(np.array([1.0, -2.0]))
    optimizer = optimizer_class([p], **kwargs)
    history = []
    for grad in steps:
        p.grad = grad.copy()
        optimizer.step()
        history.append(p.data.copy())
    return p, optimizer, history


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=1e-13, atol=0)


def test_sgd_plain():
    # p -= lr * g:  [1, -2] - 0.1 [0.5, 1] = [0.95, -2.1];  then - 0.1 [-1, 0.5] = [1.05, -2.15]
    _, optimizer, (p1, p2) = run(tt.optim.SGD, lr=0.1)
    close(p1, [0.95, -2.1])
    close(p2, [1.05, -2.15])
    assert optimizer.state == {}                   # no momentum: nothing to remember


def test_sgd_momentum_and_weight_decay():
    # lr 0.1, momentum 0.9, weight_decay 0.01 (L2: g' = g + 0.01 p, before momentum)
    # step 1: g' = [0.5 + 0.01, 1 - 0.02] = [0.51, 0.98];  buf = g' (the first gradient itself)
    #         p = [1 - 0.051, -2 - 0.098] = [0.949, -2.098]
    # step 2: g' = [-1 + 0.00949, 0.5 - 0.02098] = [-0.99051, 0.47902]
    #         buf = 0.9 [0.51, 0.98] + g' = [-0.53151, 1.36102]
    #         p = [0.949 + 0.053151, -2.098 - 0.136102] = [1.002151, -2.234102]
    p, optimizer, (p1, p2) = run(tt.optim.SGD, lr=0.1, momentum=0.9, weight_decay=0.01)
    close(p1, [0.949, -2.098])
    close(p2, [1.002151, -2.234102])
    close(optimizer.state[p]["momentum_buffer"], [-0.53151, 1.36102])


def test_adam():
    # lr 0.1, betas (0.9, 0.999), eps 1e-8
    # step 1: m = 0.1 g = [0.05, 0.1];  v = 0.001 g^2 = [0.00025, 0.001]
    #         bias corrections 1 - 0.9 = 0.1 and 1 - 0.999 = 0.001
    #         denom = sqrt(v) / sqrt(0.001) + 1e-8 = [0.50000001, 1.00000001]
    #         p -= (0.1 / 0.1) m / denom   ->  Adam's first step is lr * sign(g), up to eps:
    #         p = [1 - 0.05/0.50000001, -2 - 0.1/1.00000001] = [0.900000002, -2.099999999]
    # step 2: m = 0.9 m + 0.1 g = [-0.055, 0.14];  v = 0.999 v + 0.001 g^2 = [0.00124975, 0.001249]
    #         bias corrections 1 - 0.81 = 0.19 and 1 - 0.998001 = 0.001999
    #         denom = sqrt(v / 0.001999) + 1e-8 = [0.790688060875248, 0.790450771403328]
    #         p -= (0.1 / 0.19) m / denom = [0.93661035424056560, -2.1932179617018397]
    p, optimizer, (p1, p2) = run(tt.optim.Adam, lr=0.1)
    close(p1, [0.900000002, -2.099999999])
    close(p2, [0.9366103542405656, -2.1932179617018397])
    state = optimizer.state[p]
    assert state["step"] == 2
    close(state["exp_avg"], [-0.055, 0.14])
    close(state["exp_avg_sq"], [0.00124975, 0.001249])


def test_adam_l2_weight_decay_goes_into_the_gradient():
    # weight_decay 0.1, coupled: g' = g + 0.1 p
    # step 1: g' = [0.6, 0.8]: again lr * sign(g') up to eps:  p = [0.9000000016666667, -2.09999999875]
    # step 2: g' = [-1 + 0.09000000016666667, 0.5 - 0.209999999875] = [-0.9099999998333333, 0.290000000125]
    #         m = [-0.0369999999833333, 0.1010000000125];  v = [0.00118773999969667, 0.000723460000072500]
    #         denom = sqrt(v / 0.001999) + 1e-8 = [0.770822352300759, 0.601590365236856]
    #         p -= (0.1 / 0.19) m / denom = [0.92526351944560636, -2.1883622761652841]
    _, _, (p1, p2) = run(tt.optim.Adam, lr=0.1, weight_decay=0.1)
    close(p1, [0.9000000016666666, -2.09999999875])
    close(p2, [0.92526351944560636, -2.1883622761652841])


def test_adamw_decoupled_weight_decay():
    # weight_decay 0.1, decoupled: p *= 1 - lr * wd = 0.99 first, then Adam's update on the
    # plain gradient (m, v and denom exactly as in test_adam):
    # step 1: p = [0.99, -1.98] - [0.099999998, 0.099999999] = [0.890000002, -2.079999999]
    # step 2: p = 0.99 p - (0.1 / 0.19) m / denom = [0.91771035422056557, -2.1524179617118397]
    _, optimizer, (p1, p2) = run(tt.optim.AdamW, lr=0.1, weight_decay=0.1)
    close(p1, [0.890000002, -2.079999999])
    close(p2, [0.91771035422056557, -2.1524179617118397])
    assert optimizer.param_groups[0]["weight_decay"] == 0.1
    assert tt.optim.AdamW([Parameter(np.zeros(1))]).param_groups[0]["weight_decay"] == 0.01


def test_step_does_not_touch_the_gradient():
    for make in (lambda ps: tt.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.1),
                 lambda ps: tt.optim.Adam(ps, weight_decay=0.1), tt.optim.AdamW):
        p = Parameter(np.array([1.0, -2.0]))
        p.grad = np.array([0.5, 1.0])
        make([p]).step()
        assert p.grad.tolist() == [0.5, 1.0]


def test_parameter_groups_with_their_own_lr_and_weight_decay():
    # AdamW's first step is p * (1 - lr wd) - lr * sign(g) (up to eps ~ 1e-8 relative).
    a, b, c = (Parameter(np.array([1.0])) for _ in range(3))
    optimizer = tt.optim.AdamW([{"params": [a], "lr": 0.1, "weight_decay": 0.0},
                                {"params": [b, c], "weight_decay": 0.5}], lr=0.01)
    assert [g["lr"] for g in optimizer.param_groups] == [0.1, 0.01]
    assert optimizer.param_groups[1]["betas"] == (0.9, 0.999)           # the defaults fill in
    for p in (a, b, c):
        p.grad = np.array([2.0])
    optimizer.step()
    np.testing.assert_allclose(a.data, [1.0 - 0.1], rtol=1e-7)          # no decay
    np.testing.assert_allclose(b.data, [1.0 * (1 - 0.01 * 0.5) - 0.01], rtol=1e-7)   # 0.985
    assert c.data.tolist() == b.data.tolist()


def test_parameters_without_gradient_are_skipped_and_get_no_state():
    for make in (lambda ps: tt.optim.SGD(ps, lr=0.1, momentum=0.9), tt.optim.Adam, tt.optim.AdamW):
        used, unused, frozen = (Parameter(np.array([1.0, 2.0])) for _ in range(3))
        frozen.requires_grad = False
        frozen.grad = np.array([1.0, 1.0])               # a stale gradient on a frozen one
        optimizer = make([used, unused, frozen])
        used.grad = np.array([1.0, -1.0])
        optimizer.step()
        assert list(optimizer.state) == [used]
        assert unused.data.tolist() == [1.0, 2.0] and frozen.data.tolist() == [1.0, 2.0]
        assert used.data.tolist() != [1.0, 2.0]
        assert list(optimizer.state_dict()["state"]) == ["0"]


def test_zero_grad_sets_none():
    p = Parameter(np.ones(2))
    p.grad = np.ones(2)
    optimizer = tt.optim.SGD([p], lr=0.1)
    optimizer.zero_grad()
    assert p.grad is None


def test_bad_arguments():
    p = Parameter(np.ones(1))
    with pytest.raises(ValueError, match="empty"):
        tt.optim.Adam([])
    with pytest.raises(ValueError, match="more than one parameter group"):
        tt.optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        tt.optim.AdamW([p], lr=-1.0)
    with pytest.raises(ValueError, match="betas must be below 1"):
        tt.optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="optimizers take tensors"):
        tt.optim.SGD([np.ones(2)], lr=0.1)


def make_model(seed):
    model = tt.nn.Sequential(tt.nn.Linear(3, 4, generator=np.random.default_rng(seed)),
                             tt.nn.GELU(), tt.nn.Linear(4, 2, generator=np.random.default_rng(seed + 1)))
    return model


def train_steps(model, optimizer, batches):
    for x, y in batches:
        loss = tt.functional.cross_entropy(model(tt.tensor(x)), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@pytest.mark.parametrize("make", [
    lambda params: tt.optim.AdamW(params, lr=0.01, weight_decay=0.1),
    lambda params: tt.optim.Adam(params, lr=0.01, weight_decay=0.1),
    lambda params: tt.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
])
def test_state_dict_round_trip_through_a_file_continues_bit_identically(tmp_path, make):
    rng = np.random.default_rng(0)
    batches = [(rng.standard_normal((5, 3)).astype(np.float32), rng.integers(0, 2, 5))
               for _ in range(6)]

    def groups(model):
        weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
        biases = [p for name, p in model.named_parameters() if name.endswith("bias")]
        return [{"params": weights}, {"params": biases, "weight_decay": 0.0}]

    model = make_model(0)
    optimizer = make(groups(model))
    train_steps(model, optimizer, batches[:3])
    tt.save({"model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp_path / "ck.npz")
    train_steps(model, optimizer, batches[3:])                 # the uninterrupted run

    checkpoint = tt.load(tmp_path / "ck.npz")
    resumed = make_model(7)                                    # different initial weights
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = make(groups(resumed))
    resumed_optimizer.param_groups[0]["lr"] = 123.0            # overwritten by the checkpoint
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    assert resumed_optimizer.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]
    assert isinstance(resumed_optimizer.param_groups[0].get("betas", ()), tuple)
    train_steps(resumed, resumed_optimizer, batches[3:])

    for (name, a), (_, b) in zip(model.named_parameters(), resumed.named_parameters()):
        assert a.dtype == b.dtype == np.float32
        assert (a.data == b.data).all(), name                  # bit-identical, not just close


def test_state_dict_holds_copies_and_numbers_parameters_in_group_order():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(3))
    optimizer = tt.optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}])
    b.grad = np.ones(3)
    optimizer.step()
    state = optimizer.state_dict()
    assert [g["params"] for g in state["param_groups"]] == [[0], [1]]
    assert state["param_groups"][1]["lr"] == 0.5
    assert list(state["state"]) == ["1"] and state["state"]["1"]["step"] == 1
    saved = state["state"]["1"]["exp_avg"].copy()
    optimizer.step()
    assert (state["state"]["1"]["exp_avg"] == saved).all()     # later steps leave it alone


def test_load_state_dict_checks_the_layout():
    source = tt.optim.Adam([Parameter(np.ones(2)), Parameter(np.ones(3))])
    with pytest.raises(ValueError, match="group 0 has 1 parameters, the saved one 2"):
        tt.optim.Adam([Parameter(np.ones(2))]).load_state_dict(source.state_dict())
    for p in source.param_groups[0]["params"]:
        p.grad = np.ones(p.shape)
    source.step()
    target = tt.optim.Adam([Parameter(np.ones(3)), Parameter(np.ones(3))])
    with pytest.raises(ValueError, match="has shape \\(2,\\), the parameter \\(3,\\)"):
        target.load_state_dict(source.state_dict())


@pytest.mark.parametrize("make", [
    lambda params: tt.optim.SGD(params, lr=np.float64(0.1), momentum=0.9, weight_decay=0.01),
    lambda params: tt.optim.Adam(params, lr=np.float64(1e-3), weight_decay=0.1),
    lambda params: tt.optim.AdamW(params, lr=np.float64(1e-3)),
])
def test_float32_parameters_stay_float32(make):
    p = Parameter(np.array([1.0, -2.0, 3.0], dtype=np.float32))
    optimizer = make([p])
    for _ in range(3):
        p.grad = np.array([0.5, 1.0, -1.0], dtype=np.float32)
        optimizer.step()
    assert p.data.dtype == np.float32
    for value in optimizer.state[p].values():
        assert not isinstance(value, np.ndarray) or value.dtype == np.float32


def test_warmup_cosine_lr_at_known_iterations():
    lr = lambda it: tt.optim.warmup_cosine_lr(it, max_lr=1.0, min_lr=0.1, warmup_iters=10,
                                              decay_iters=110)
    assert lr(0) == 1 / 11                    # warmup: (it + 1) / (warmup_iters + 1)
    assert lr(4) == 5 / 11
    assert lr(9) == 10 / 11
    assert lr(10) == 1.0                      # cosine starts at max_lr
    assert lr(35) == pytest.approx(0.1 + 0.45 * (1 + math.sqrt(2) / 2), rel=1e-15)  # r = 1/4
    assert lr(60) == pytest.approx(0.55, rel=1e-15)     # halfway: (max + min) / 2
    assert lr(110) == pytest.approx(0.1, rel=1e-15)     # cos(pi) = -1
    assert lr(111) == 0.1 and lr(10_000) == 0.1


def test_set_lr_sets_every_group():
    optimizer = tt.optim.SGD([{"params": [Parameter(np.ones(1))]},
                              {"params": [Parameter(np.ones(1))], "lr": 0.5}], lr=0.1)
    tt.optim.set_lr(optimizer, np.float64(0.02))
    assert [g["lr"] for g in optimizer.param_groups] == [0.02, 0.02]
    assert all(type(g["lr"]) is float for g in optimizer.param_groups)


@pytest.mark.parametrize("make", [
    lambda params: tt.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=0.01),
    lambda params: tt.optim.SGD(params, lr=0.1),
    lambda params: tt.optim.Adam(params, lr=0.01, weight_decay=0.1),
    lambda params: tt.optim.AdamW(params, lr=0.01, weight_decay=0.1),
])
def test_large_and_non_contiguous_parameters_get_the_same_update_bit_for_bit(make):
    # Updates are elementwise, so a parameter larger than one piece (tinytorch.optim.PIECE
    # elements, updated piece by piece), a Fortran-ordered one (updated whole) and the same
    # numbers as many small row parameters must all end up with exactly the same bits.
    rows, cols = 3, tt.optim.PIECE // 2 + 5           # 1.5 pieces and a bit
    rng = np.random.default_rng(0)
    values = rng.standard_normal((rows, cols)).astype(np.float32)
    grads = [rng.standard_normal((rows, cols)).astype(np.float32) for _ in range(3)]
    big = Parameter(values.copy())
    fortran = Parameter(np.asfortranarray(values))
    small = [Parameter(values[i].copy()) for i in range(rows)]
    optimizers = [make([big]), make([fortran]), make(small)]
    for grad in grads:
        big.grad, fortran.grad = grad.copy(), np.asfortranarray(grad)
        for i, p in enumerate(small):
            p.grad = grad[i].copy()
        for optimizer in optimizers:
            optimizer.step()
    assert (big.data == np.stack([p.data for p in small])).all()
    assert (fortran.data == big.data).all()
    assert not (big.data == values).all()


def test_making_an_optimizer_keeps_freed_memory_for_the_loop_it_drives(monkeypatch):
    """A user's own loop gets what `gpt train` gets: the optimizer asks glibc to keep freed
    memory (tinytorch.memory), so the loop does not page-fault fresh memory every step."""
    calls = []
    monkeypatch.setattr(tt.memory, "keep_freed_memory", lambda: calls.append(1) or True)
    tt.optim.AdamW([Parameter(np.ones(2))])
    assert calls == [1]
