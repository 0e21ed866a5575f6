"""An optimizer keeps its parameters in flat buffers (tinytorch.flat_parameters); whatever the
gpt package does to a model's arrays afterwards (a resume loading a checkpoint, merging LoRA,
converting the dtype), the optimizer goes on updating the parameters the model computes with."""
import numpy as np

from gpt import GPT, GPTConfig
from gpt.finetune.lora import add_lora, merge_lora
from gpt.train import TrainConfig, load_checkpoint, make_optimizer, save_checkpoint, train_step
from gpt.training_step import make_adamw, optimizer_step
from gpt.tokenizers import CharTokenizer

TINY = dict(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8)


def batch(seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 13, (3, 8)), rng.integers(0, 13, (3, 8))


def step(model, optimizer, seed):
    x, y = batch(seed)
    _, loss = model(x, y)
    loss.backward()
    return optimizer_step(model, optimizer, loss.item(), grad_clip=1.0)


def snapshot(model):
    return {name: p.data.copy() for name, p in model.named_parameters()}


def in_buffer(optimizer, param):
    return any(param.data.base is flat.data for flat in optimizer._flat if flat.flat)


def test_after_merge_lora_the_optimizer_still_trains_what_the_model_uses():
    model = add_lora(GPT(GPTConfig(**TINY), seed=0), rank=2, seed=0)
    model.transformer.ln_f.requires_grad_()              # trained beside the adapters
    optimizer = make_adamw(model, lr=0.01, weight_decay=0.1)
    for seed in range(2):
        step(model, optimizer, seed)
    merge_lora(model)                                    # new Linear layers, frozen
    before = snapshot(model)
    step(model, optimizer, 2)
    after = snapshot(model)
    for name in ("transformer.ln_f.weight", "transformer.ln_f.bias"):
        assert not np.array_equal(before[name], after[name]), name
        assert in_buffer(optimizer, dict(model.named_parameters())[name])
    assert np.array_equal(before["transformer.h.0.attn.c_attn.weight"],
                          after["transformer.h.0.attn.c_attn.weight"])       # frozen, merged
    # unfrozen, the merged model trains with a new optimizer, every parameter of it
    model.requires_grad_()
    optimizer = make_adamw(model, lr=0.01, weight_decay=0.1)
    step(model, optimizer, 3)
    moved = snapshot(model)
    for name, p in model.named_parameters():
        assert not np.array_equal(after[name], moved[name]), name
        assert in_buffer(optimizer, p), name


def test_a_model_converted_to_float64_after_its_optimizer_was_made_trains_in_float64():
    model = GPT(GPTConfig(**TINY), seed=0)
    optimizer = make_adamw(model, lr=0.01, weight_decay=0.1)
    step(model, optimizer, 0)
    model.to(np.float64)
    before = snapshot(model)
    step(model, optimizer, 1)
    for name, p in model.named_parameters():
        assert p.dtype == np.float64 and in_buffer(optimizer, p), name
        assert not np.array_equal(before[name], p.data), name


def test_a_resumed_optimizer_updates_the_loaded_model_as_the_uninterrupted_run_does(tmp_path):
    """What `gpt train --resume` does: the model from the checkpoint, a new optimizer over
    it, the saved optimizer state loaded; the next steps equal the uninterrupted run's."""
    config = TrainConfig(n_layer=2, n_head=2, n_embd=8, block_size=8, batch_size=3, char=True,
                         max_iters=10)
    tokenizer = CharTokenizer("abcdefghijklm")
    ids = np.random.default_rng(0).integers(0, 13, 500).astype(np.uint16)
    model = GPT(config.model_config(13), seed=0)
    optimizer = make_optimizer(model, config)
    rng = np.random.default_rng(1)
    for _ in range(2):
        train_step(model, optimizer, ids, config, rng)
    save_checkpoint(tmp_path, model, tokenizer, optimizer,
                    {"batch_rng": rng.bit_generator.state, "iteration": 2})
    for _ in range(2):
        train_step(model, optimizer, ids, config, rng)

    resumed, _, state = load_checkpoint(tmp_path)
    resumed_optimizer = make_optimizer(resumed, config)
    resumed_optimizer.load_state_dict(state["optimizer"])
    resumed_rng = np.random.default_rng()
    resumed_rng.bit_generator.state = state["batch_rng"]
    for _ in range(2):
        train_step(resumed, resumed_optimizer, ids, config, resumed_rng)
    for (name, a), (_, b) in zip(model.named_parameters(), resumed.named_parameters()):
        assert np.array_equal(a.data, b.data), name
        assert in_buffer(resumed_optimizer, b), name
