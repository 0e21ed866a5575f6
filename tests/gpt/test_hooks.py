"""Hooks (gpt.model.Hooks): named activations read or replaced while the model runs. A hook
that only reads changes no number, bit for bit, and adds no node to the graph; a name the
model does not have is refused."""
from dataclasses import replace

import numpy as np
import pytest

import tinytorch as tt
from gpt import GPT, GPTConfig

CONFIG = GPTConfig(vocab_size=37, block_size=16, n_layer=2, n_head=3, n_embd=24)
B, T = 2, 7
IDX = np.random.default_rng(0).integers(0, 37, (B, T))
TARGETS = np.random.default_rng(1).integers(0, 37, (B, T))
NAMES = ["embed"] + [f"h.{i}.{point}" for i in range(CONFIG.n_layer)
                     for point in ("attn.weights", "attn.heads", "resid")]


def graph_signature(tensor):
    """The graph behind `tensor` as (op name, shapes of its tensor inputs) per node, in the
    order tinytorch.graph walks it: two equal signatures are the same graph."""
    return [(node.fn.__name__, tuple(arg.shape for arg in node.inputs
                                     if isinstance(arg, tt.Tensor)))
            for node in tt.graph.nodes(tensor)]


def forward_and_backward(model, hooks=None):
    """logits, loss, the graph's signature and every parameter's gradient, with `hooks`."""
    with model.hooks(hooks or {}):
        logits, loss = model(IDX, TARGETS)
    signature = graph_signature(loss)
    loss.backward()
    grads = {name: p.grad.copy() for name, p in model.named_parameters()}
    return logits.data, loss.data, signature, grads


def reader(seen, name):
    def read(value):
        seen[name] = value.shape           # looks, returns None: the model goes on as it was
    return read


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("names", [[name] for name in NAMES] + [NAMES], ids=lambda n: "+".join(n)
                         if len(n) == 1 else "every name")
def test_hooks_that_only_read_change_no_number_and_add_no_node(fused, names):
    # dropout on and the model training: the masks too must be drawn as without the hooks
    config = replace(CONFIG, fused=fused, dropout=0.2)
    plain = forward_and_backward(GPT(config, seed=3))
    seen = {}
    hooked = forward_and_backward(GPT(config, seed=3), {n: reader(seen, n) for n in names})
    assert sorted(seen) == sorted(names)
    np.testing.assert_array_equal(hooked[0], plain[0])         # logits, bit for bit
    np.testing.assert_array_equal(hooked[1], plain[1])         # loss
    assert hooked[2] == plain[2]                               # the same graph, node by node
    for name, grad in plain[3].items():
        np.testing.assert_array_equal(hooked[3][name], grad, err_msg=name)


def test_a_hook_sees_each_activation_in_its_shape():
    seen = {}
    model = GPT(CONFIG, seed=0)
    with model.hooks({name: reader(seen, name) for name in NAMES}):
        model(IDX)
    H, D, C = CONFIG.n_head, CONFIG.head_size, CONFIG.n_embd
    assert seen == {"embed": (B, T, C),
                    **{f"h.{i}.attn.weights": (B, H, T, T) for i in range(2)},
                    **{f"h.{i}.attn.heads": (B, H, T, D) for i in range(2)},
                    **{f"h.{i}.resid": (B, T, C) for i in range(2)}}


@pytest.mark.parametrize("name", ["h.2.resid", "h.0.mlp", "resid", "embed ", "h.-1.resid",
                                  "H.0.resid", "h.0.attn", "h.00.resid", ""])
def test_a_name_the_model_does_not_have_is_refused_and_nothing_stays_registered(name):
    model = GPT(CONFIG, seed=0)
    expected, _ = model(IDX)
    with pytest.raises(KeyError) as refused:
        with model.hooks({"embed": lambda x: x * 0.0, name: lambda x: None}):
            pass
    assert repr(name) in str(refused.value) and "blocks 0 to 1" in str(refused.value)
    logits, _ = model(IDX)                   # the valid hook beside it was not left behind
    np.testing.assert_array_equal(logits.data, expected.data)


def test_hooks_are_gone_after_the_block_even_when_it_raises():
    model = GPT(CONFIG, seed=0)
    expected, _ = model(IDX)
    with pytest.raises(ZeroDivisionError):
        with model.hooks({"h.1.resid": lambda x: x * 0.0}):
            1 / 0
    logits, _ = model(IDX)
    np.testing.assert_array_equal(logits.data, expected.data)


def test_hooks_do_not_nest_and_say_so():
    model = GPT(CONFIG, seed=0)
    with model.hooks({"embed": lambda x: None}):
        with pytest.raises(RuntimeError, match="already in use"):
            with model.hooks({"h.0.resid": lambda x: None}):
                pass


def test_replaced_attention_weights_are_the_ones_used():
    # uniform weights over the visible keys: each output row is the mean of the values so far
    model = GPT(replace(CONFIG, n_layer=1), seed=0)
    seen = {}

    def uniform(weights):
        mask = np.tril(np.ones((T, T), np.float32))
        return tt.Tensor(np.broadcast_to(mask / mask.sum(axis=1, keepdims=True),
                                         weights.shape).copy())

    def keep_heads(heads):
        seen["heads"] = heads.data

    attn = model.transformer.h[0].attn
    with model.hooks({"h.0.attn.weights": uniform, "h.0.attn.heads": keep_heads}):
        model(IDX)
    x = model.transformer.wte(IDX) + model.transformer.wpe(np.arange(T))
    qkv = attn.c_attn(model.transformer.h[0].ln_1(x)).data
    v = qkv[..., 2 * CONFIG.n_embd:].reshape(B, T, CONFIG.n_head, -1).transpose(0, 2, 1, 3)
    running_mean = np.cumsum(v, axis=2) / np.arange(1, T + 1)[:, None]
    np.testing.assert_allclose(seen["heads"], running_mean, rtol=1e-5, atol=1e-6)
