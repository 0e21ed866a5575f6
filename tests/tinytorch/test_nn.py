"""tinytorch.nn: Module and its bookkeeping, the standard layers, init and clip_grad_norm_."""
import math

import numpy as np
import pytest

import tinytorch as tt
import tinytorch.functional as F
from tinytorch.functional import composed
from tinytorch import nn
from tinytorch.nn import init
from tinytorch.nn.utils import clip_grad_norm_


class Block(nn.Module):
    def __init__(self, width, generator=None):
        super().__init__()
        self.ln = nn.LayerNorm(width)
        self.fc = nn.Linear(width, width, generator=generator)
        self.drop = nn.Dropout(0.5, generator=generator)

    def forward(self, x):
        return x + self.drop(F.gelu(self.fc(self.ln(x))))


class Tiny(nn.Module):
    """An embedding, two residual blocks in a ModuleList, and a head tied to the embedding."""

    def __init__(self, seed=0):
        super().__init__()
        generator = np.random.default_rng(seed)
        self.embed = nn.Embedding(10, 4, generator=generator)
        self.blocks = nn.ModuleList([Block(4, generator) for _ in range(2)])
        self.head = nn.Linear(4, 10, bias=False, generator=generator)
        self.head.weight = self.embed.weight           # tied: one parameter, two uses

    def forward(self, ids):
        h = self.embed(ids)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


BLOCK_NAMES = ["ln.weight", "ln.bias", "fc.weight", "fc.bias"]
TINY_NAMES = ["embed.weight"] + [f"blocks.{i}.{name}" for i in range(2) for name in BLOCK_NAMES]


# ----- registration and names -------------------------------------------------------------------

def test_named_parameters_are_dotted_in_registration_order():
    assert [name for name, _ in Tiny().named_parameters()] == TINY_NAMES


def test_a_shared_parameter_is_listed_once_under_its_first_name():
    model = Tiny()
    params = list(model.parameters())
    assert len(params) == len({id(p) for p in params}) == len(TINY_NAMES)
    assert model.head.weight is model.embed.weight
    assert "head.weight" not in dict(model.named_parameters())


def test_a_tied_parameter_gets_both_gradients():
    model = Tiny().eval()
    ids = np.array([[1, 2, 3]])
    loss = F.cross_entropy(model(ids).reshape(-1, 10), np.array([2, 3, 4]))
    loss.backward()
    weight = model.embed.weight
    # Only rows 1, 2, 3 were looked up, but the head uses every row: all get a gradient.
    assert np.all(np.abs(weight.grad).sum(axis=1) > 0)


def test_reassigning_an_attribute_replaces_or_unregisters():
    block = Block(3)
    block.fc = nn.Linear(3, 3, bias=False)
    assert [name for name, _ in block.named_parameters()] == ["ln.weight", "ln.bias", "fc.weight"]
    block.ln = None
    assert [name for name, _ in block.named_parameters()] == ["fc.weight"]
    del block.fc
    assert list(block.named_parameters()) == []


def test_parameters_are_leaves_that_require_grad():
    p = nn.Parameter(np.zeros(3, np.float32))
    assert p.requires_grad and p.is_leaf and isinstance(p, tt.Tensor)
    assert "Parameter" in repr(p)
    assert not nn.Parameter(np.zeros(2), requires_grad=False).requires_grad


def test_a_typo_is_an_attribute_error_not_a_silent_lookup():
    model = Tiny()
    with pytest.raises(AttributeError):
        model.embedd
    with pytest.raises(AttributeError):
        model.blocks[0].fc.wieght


def test_forgetting_super_init_says_so():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(AttributeError, match=r"super\(\).__init__\(\)"):
        Broken()


def test_module_list_and_sequential():
    generator = np.random.default_rng(0)
    stack = nn.Sequential(nn.Linear(3, 4, generator=generator), nn.GELU(),
                          nn.Linear(4, 2, generator=generator))
    assert [name for name, _ in stack.named_parameters()] == ["0.weight", "0.bias",
                                                              "2.weight", "2.bias"]
    x = tt.tensor(np.ones((5, 3), np.float32))
    expected = stack[2](stack[1](stack[0](x)))
    np.testing.assert_array_equal(stack(x).data, expected.data)
    assert len(stack) == 3 and len(stack[1:]) == 2


# ----- state_dict -------------------------------------------------------------------------------

def test_state_dict_round_trip():
    source, target = Tiny(seed=1).eval(), Tiny(seed=2).eval()
    ids = np.array([[0, 5, 9]])
    assert not np.allclose(source(ids).data, target(ids).data)

    state = source.state_dict()
    assert list(state) == TINY_NAMES
    assert all(isinstance(v, np.ndarray) for v in state.values())
    assert target.load_state_dict(state) == ([], [])
    np.testing.assert_array_equal(source(ids).data, target(ids).data)

    state["embed.weight"][0, 0] = 123.0          # the loaded copy is the target's own
    assert target.embed.weight.data[0, 0] != 123.0


def test_load_state_dict_converts_to_each_parameters_dtype():
    model = nn.Linear(2, 3)
    model.load_state_dict({"weight": np.ones((3, 2)), "bias": np.zeros(3)})   # float64 arrays
    assert model.weight.dtype == np.float32 and model.bias.dtype == np.float32


def test_load_state_dict_names_missing_unexpected_and_misshaped_keys():
    model = Tiny()
    state = model.state_dict()
    del state["blocks.1.fc.bias"]
    state["blocks.7.fc.weight"] = np.zeros((4, 4))
    state["embed.weight"] = np.zeros((11, 4))
    with pytest.raises(ValueError) as failure:
        model.load_state_dict(state)
    message = str(failure.value)
    assert "missing: blocks.1.fc.bias" in message
    assert "unexpected: blocks.7.fc.weight" in message
    assert "embed.weight: expected (10, 4), got (11, 4)" in message


def test_load_state_dict_lists_five_names_of_each_kind_and_counts_the_rest():
    model = Tiny()
    state = {f"extra.{i}": np.zeros(1) for i in range(9)}
    with pytest.raises(ValueError) as failure:
        model.load_state_dict(state)
    message = str(failure.value)
    assert "unexpected: extra.0, extra.1, extra.2, extra.3, extra.4, ... (4 more)" in message
    assert "extra.5" not in message
    names = list(model.state_dict())
    assert f"missing: {', '.join(names[:5])}, ... ({len(names) - 5} more)" in message


def test_load_state_dict_strict_false_returns_missing_and_unexpected():
    model = Tiny()
    before = model.blocks[1].fc.bias.data.copy()
    state = Tiny(seed=5).state_dict()
    del state["blocks.1.fc.bias"]
    state["extra"] = np.zeros(1)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["blocks.1.fc.bias"] and unexpected == ["extra"]
    np.testing.assert_array_equal(model.blocks[1].fc.bias.data, before)      # left alone
    np.testing.assert_array_equal(model.embed.weight.data, state["embed.weight"])

    state["embed.weight"] = np.zeros((3, 4))              # a wrong shape is never acceptable
    with pytest.raises(ValueError, match="embed.weight"):
        model.load_state_dict(state, strict=False)


# ----- modes, dtype, gradients ------------------------------------------------------------------

def test_train_and_eval_reach_every_module_and_switch_dropout():
    model = Tiny()
    assert model.eval() is model
    assert all(not m.training for m in model.modules())
    x = tt.tensor(np.ones((2, 4), np.float32))
    assert model.blocks[0].drop(x) is x                   # the identity in eval mode

    assert model.train() is model
    assert all(m.training for m in model.modules())
    dropped = model.blocks[0].drop(x).data
    assert set(np.unique(dropped)) <= {0.0, 2.0} and dropped.shape == (2, 4)


def test_to_float64_converts_every_parameter_and_allows_a_gradcheck():
    model = Tiny().eval()
    assert all(p.dtype == np.float32 for p in model.parameters())
    model.blocks[0].fc.weight.grad = np.ones((4, 4), np.float32)
    assert model.to(np.float64) is model
    assert all(p.dtype == np.float64 and p.grad is None for p in model.parameters())
    assert model.head.weight is model.embed.weight        # still tied
    ids = np.array([[1, 2], [3, 1]])
    assert model(ids).dtype == np.float64

    weight = model.blocks[1].fc.weight
    assert tt.gradcheck(lambda w: model(ids), [weight])


def test_zero_grad_forgets_every_gradient():
    model = Tiny()
    model(np.array([[1, 2]])).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_requires_grad_false_freezes_parameters():
    model = Tiny()
    assert model.blocks[0].requires_grad_(False) is model.blocks[0]
    model(np.array([[1, 2]])).sum().backward()
    for name, p in model.named_parameters():
        frozen = name.startswith("blocks.0.")
        assert (p.grad is None) == frozen, name
        assert p.requires_grad != frozen
    model.blocks[0].requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_repr_reads_like_pytorchs():
    text = repr(Tiny())
    for part in ["Tiny(", "(embed): Embedding(10, 4)", "(blocks): ModuleList(",
                 "(0): Block(", "(ln): LayerNorm((4,), eps=1e-05)",
                 "(fc): Linear(in_features=4, out_features=4, bias=True)",
                 "(drop): Dropout(p=0.5)",
                 "(head): Linear(in_features=4, out_features=10, bias=False)"]:
        assert part in text, text
    assert repr(nn.GELU()) == "GELU(approximate='tanh')"


# ----- the layers -------------------------------------------------------------------------------

def test_linear_layout_and_init_bounds():
    layer = nn.Linear(400, 300, generator=np.random.default_rng(0))
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)   # (out, in)
    bound = 1.0 / math.sqrt(400)                                             # PyTorch's
    for p in (layer.weight, layer.bias):
        assert p.dtype == np.float32
        assert 0.98 * bound < np.abs(p.data).max() <= bound                 # fills the range
    x = tt.tensor(np.random.default_rng(1).standard_normal((2, 400)), dtype=np.float32)
    np.testing.assert_allclose(layer(x).data, x.data @ layer.weight.data.T + layer.bias.data,
                               rtol=1e-5, atol=1e-6)
    assert nn.Linear(3, 2, bias=False).bias is None


def test_layers_are_reproducible_with_a_generator():
    a = nn.Linear(5, 3, generator=np.random.default_rng(4))
    b = nn.Linear(5, 3, generator=np.random.default_rng(4))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    np.testing.assert_array_equal(a.bias.data, b.bias.data)
    e1 = nn.Embedding(6, 2, generator=np.random.default_rng(4))
    e2 = nn.Embedding(6, 2, generator=np.random.default_rng(4))
    np.testing.assert_array_equal(e1.weight.data, e2.weight.data)


def test_layer_norm_and_embedding_modules():
    ln = nn.LayerNorm(3)
    np.testing.assert_array_equal(ln.weight.data, np.ones(3))
    np.testing.assert_array_equal(ln.bias.data, np.zeros(3))
    x = tt.tensor([[1.0, 2.0, 3.0]])
    np.testing.assert_allclose(ln(x).data, [[-1.2247, 0.0, 1.2247]], atol=1e-4)
    assert nn.LayerNorm(3, elementwise_affine=False).weight is None
    assert nn.LayerNorm(3, bias=False).bias is None

    table = nn.Embedding(5, 2, generator=np.random.default_rng(0))
    np.testing.assert_array_equal(table(np.array([4, 0])).data, table.weight.data[[4, 0]])


def test_rms_norm_and_silu_modules():
    norm = nn.RMSNorm(2, eps=1e-6)
    np.testing.assert_array_equal(norm.weight.data, np.ones(2, np.float32))
    assert [name for name, _ in norm.named_parameters()] == ["weight"]
    x = tt.tensor([[3.0, 4.0]])                                  # root mean square sqrt(12.5)
    np.testing.assert_allclose(norm(x).data, [[3.0 / math.sqrt(12.5), 4.0 / math.sqrt(12.5)]],
                               rtol=1e-6)
    assert nn.RMSNorm((2, 3), elementwise_affine=False).weight is None
    assert repr(nn.RMSNorm(4)) == "RMSNorm((4,), eps=None)"      # None: the dtype's epsilon
    np.testing.assert_allclose(nn.SiLU()(tt.tensor([0.0, 1.0])).data,
                               [0.0, 1.0 / (1.0 + math.exp(-1.0))], rtol=1e-6)
    composed_norm = norm(x, functional=composed)
    np.testing.assert_allclose(composed_norm.data, norm(x).data, rtol=1e-6)


# ----- init -------------------------------------------------------------------------------------

@pytest.mark.parametrize("fill", [
    lambda t, g: init.normal(t, 0.0, 0.02, generator=g),
    lambda t, g: init.normal_(t, 1.0, 2.0, generator=g),
    lambda t, g: init.kaiming_uniform(t, generator=g),
    lambda t, g: init.kaiming_uniform_(t, a=math.sqrt(5), generator=g),
    lambda t, g: init.uniform_(t, -1.0, 1.0, generator=g),
])
def test_init_with_a_generator_is_reproducible_and_keeps_the_dtype(fill):
    a = nn.Parameter(np.empty((20, 30), np.float32))
    b = nn.Parameter(np.empty((20, 30), np.float32))
    assert fill(a, np.random.default_rng(3)) is a
    fill(b, np.random.default_rng(3))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32
    assert not np.array_equal(a.data, fill(b, np.random.default_rng(4)).data)


def test_init_values():
    t = nn.Parameter(np.empty((200, 300), np.float64))
    init.normal(t, 1.0, 0.5, generator=np.random.default_rng(0))
    assert abs(t.data.mean() - 1.0) < 0.01 and abs(t.data.std() - 0.5) < 0.01
    init.kaiming_uniform(t, generator=np.random.default_rng(0))     # a=0: sqrt(2) sqrt(3/300)
    bound = math.sqrt(2.0) * math.sqrt(3.0 / 300)
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.99 * bound
    init.zeros(t)
    assert not t.data.any()
    init.ones_(t)
    assert (t.data == 1.0).all()


# ----- clip_grad_norm_ --------------------------------------------------------------------------

def test_clip_grad_norm_returns_the_norm_and_scales_to_max_norm():
    a = nn.Parameter(np.zeros(2))
    b = nn.Parameter(np.zeros(1))
    unused = nn.Parameter(np.zeros(3))                    # no gradient: skipped
    a.grad, b.grad = np.array([3.0, 4.0]), np.array([12.0])       # norm sqrt(9 + 16 + 144) = 13
    total = clip_grad_norm_([a, b, unused], max_norm=6.5)
    assert total == pytest.approx(13.0)
    scale = 6.5 / (13.0 + 1e-6)                           # PyTorch's formula
    np.testing.assert_allclose(a.grad, [3.0 * scale, 4.0 * scale])
    np.testing.assert_allclose(b.grad, [12.0 * scale])
    assert unused.grad is None
    assert math.sqrt((a.grad ** 2).sum() + (b.grad ** 2).sum()) == pytest.approx(6.5)


def test_clip_grad_norm_leaves_small_gradients_alone():
    a = nn.Parameter(np.zeros(2))
    a.grad = np.array([0.3, 0.4])
    assert clip_grad_norm_(iter([a]), max_norm=1.0) == pytest.approx(0.5)
    np.testing.assert_array_equal(a.grad, [0.3, 0.4])


def test_clipping_after_backward_changes_no_other_gradient():
    """The engine gives every leaf its own gradient memory, so in-place clipping is safe."""
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    (a + b).sum().backward()
    clip_grad_norm_([a], max_norm=0.1)
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


def test_skip_init_builds_a_module_without_drawing_its_weights():
    """skip_init, as PyTorch's: the random initialisers leave the tensors alone inside it (a
    loader fills them next), norms still start at one, and outside it drawing works again."""
    marked = nn.Parameter(np.full((3, 5), 7.0, np.float32))
    with nn.init.skipped():
        nn.init.normal_(marked, generator=np.random.default_rng(0))
        nn.init.kaiming_uniform_(marked, generator=np.random.default_rng(0))
        with nn.init.skipped():
            pass
        nn.init.uniform_(marked, generator=np.random.default_rng(0))   # still skipping
    assert (marked.data == 7.0).all()
    norm = nn.utils.skip_init(nn.LayerNorm, 5)
    assert (norm.weight.data == 1).all() and (norm.bias.data == 0).all()
    layer = nn.utils.skip_init(nn.Linear, 4, 6, bias=True)
    assert layer.weight.shape == (6, 4) and layer.weight.dtype == np.float32
    nn.init.normal_(marked, generator=np.random.default_rng(0))
    assert not (marked.data == 7.0).any()
    with pytest.raises(ZeroDivisionError):        # an error inside leaves skipping off
        with nn.init.skipped():
            1 / 0
    nn.init.uniform_(marked, 8.0, 9.0, generator=np.random.default_rng(0))
    assert (marked.data >= 8.0).all()
