"""What every fine-tuning run shares: its settings, the model it starts from, and the splits.

    config = ClassifyConfig(model=..., data=..., out=..., epochs=3)     # a FinetuneConfig
    result = finetune_classifier(config, log=print)                     # the same shape for all

A run claims its output directory at once (gpt.safeguards.output_dir: writable, not taken,
before minutes of training) and writes it whole at the end. Its settings are a dataclass
derived from FinetuneConfig, checked when made and named as the command line's flags; a whole
run needs its model, data and out (require_files), a step of one (an epoch, an evaluation on
splits already in memory) only the settings.
"""
from dataclasses import dataclass

from tinytorch.serialization import write_json

from ..model import GPT
from ..safeguards.checks import integer, number, optional_integer
from ..tokenizers import load_tokenizer, save_tokenizer, token_ids_config
from .lora import lora_alpha

SPLITS = ("train", "validation", "test")       # every fine-tuning data set is cut into these


@dataclass
class FinetuneConfig:
    """Settings every fine-tuning run has. AdamW at lr 5e-5 with weight decay 0.1, batches of
    8 and gradient clipping at 1.0 are the book's (chapters 6 and 7); the epochs and the seed
    are each run's own defaults. lora_rank: train rank-r LoRA adapters instead of the weights
    themselves, lora_alpha their scale's numerator (None: gpt.finetune.lora's default)."""

    model: str = None             # a checkpoint directory with its tokenizer
    data: str = None              # the data file
    out: str = None               # the output directory: must be new or empty
    epochs: int = 2
    lr: float = 5e-5
    weight_decay: float = 0.1
    batch_size: int = 8
    grad_clip: float = 1.0
    lora_rank: int = None
    lora_alpha: float = None
    seed: int = 123

    def __post_init__(self):
        self.epochs = integer(self.epochs, "--epochs", minimum=1)
        self.batch_size = integer(self.batch_size, "--batch-size", minimum=1)
        self.seed = integer(self.seed, "--seed", minimum=0)
        self.lr = number(self.lr, "--lr", "(0, inf)")
        self.weight_decay = number(self.weight_decay, "weight_decay", "[0, inf)")
        self.grad_clip = number(self.grad_clip, "grad_clip", "(0, inf]")     # inf: no clipping
        self.lora_rank = optional_integer(self.lora_rank, "--lora-rank", minimum=1)
        if self.lora_rank is not None:
            alpha = lora_alpha(self.lora_rank, self.lora_alpha)
            number(alpha, "lora_alpha", "(0, inf)")             # checked; 8 stays 8, as shown
            self.lora_alpha = alpha


def require_files(config):
    """A ValueError unless `config` names the model, the data and the output directory (a
    whole run needs them; a step of one, such as fine_tune on splits in memory, does not)."""
    missing = [name for name in ("model", "data", "out") if getattr(config, name) is None]
    if missing:
        raise ValueError(f"a fine-tuning run needs --{', --'.join(missing)}")


def load_base_model(model_dir):
    """(GPT, tokenizer) to fine-tune: a language model (GPT.from_pretrained refuses a
    classifier) and the tokenizer it was trained with."""
    return GPT.from_pretrained(model_dir), load_tokenizer(model_dir)


def save_language_model(folder, model, tokenizer, json_files):
    """A fine-tuned language model with its tokenizer, as the other commands and transformers
    load it, and the run's JSON files ({file name: data}, keys in the order given: each record's
    fields, then the run's figures), into `folder`."""
    model.save_pretrained(folder, extra_config=token_ids_config(tokenizer))
    save_tokenizer(tokenizer, folder)
    for name, data in json_files.items():
        write_json(folder / name, data, sort_keys=False)
