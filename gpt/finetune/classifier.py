"""A GPT-2 that classifies a text: the pretrained body, and a new head on its last real token.

    idx (B, T) right-padded token ids, lengths (B,) real tokens per row
      -> the GPT body (embeddings, blocks, ln_f)           (B, T, C)   hidden states
      -> the row of each text's last real token            (B, C)      hidden[b, lengths[b] - 1]
      -> score: Linear(C, n_classes), no bias              (B, n_classes) logits

Why the last token: attention is causal, so position t has seen tokens 0..t and nothing
after. Only the last real token has read the whole text; and padding after it cannot change
it, so a text gives the same logits alone or padded inside a longer batch.

The names are those of Hugging Face's `GPT2ForSequenceClassification` (`transformer.*` and
`score.weight`), so a saved classifier is a GPT-2 checkpoint plus the head and the label names
in config.json, next to the tokenizer's files:

    config.json         architectures ["GPT2ForSequenceClassification"], num_labels,
                        id2label {"0": "ham", "1": "spam"}, label2id, pad_token_id
    model.safetensors   transformer.* (Conv1D layout, as any GPT-2) and score.weight (n, C)
    vocab.json, merges.txt, ...  the tokenizer (gpt.tokenizers)

One difference from HF, on purpose: HF finds each row's last token by searching for the pad
id; here the caller passes the lengths, because the pad id is an ordinary token that a text
may contain (in gpt2-tiny it is 0, <|endoftext|>).
"""
from pathlib import Path

import numpy as np

from tinytorch import nn

from ..hf_checkpoint import (CONFIG_FILE, classifier_architecture, config_from_hf,
                             fill_parameters, hf_to_state_dict, load_weights_into, model_type,
                             open_weights, read_config, read_weights, save_pretrained)
from ..hf_llama import weight_names
from ..model import Transformer, functional_for, init_gpt2_weights
from ..safeguards.checks import integer
from ..safeguards.memory import check_model_fits
from ..safeguards.output_dir import atomic_directory
from ..seeds import stream
from ..tokenizers import load_tokenizer, padding_id, save_tokenizer, token_ids_config


class GPTClassifier(nn.Module):
    """A GPT's body with a classification head: `score`, a linear map from the hidden state of
    each text's last real token to one logit per class.

        classifier = GPTClassifier.from_gpt(GPT.from_pretrained(directory), ("ham", "spam"))
        logits = classifier(idx, lengths)        # idx (B, T) right-padded, lengths (B,)

    The body is the language model's (gpt.model.Transformer, the same parameter names); only
    the head differs, so a classifier has no LM head and nothing to generate with.
    """

    def __init__(self, config, label_names, seed=None):
        super().__init__()
        check_model_fits(config)
        self.label_names = tuple(label_names)
        if len(self.label_names) < 2 or len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"a classifier needs at least two distinct label names, got "
                             f"{self.label_names}")
        self.config = config
        self.dropout_generator = stream("dropout", seed)
        self.transformer = Transformer(config, self.dropout_generator)
        init_gpt2_weights(self.transformer, config.n_layer, stream("weights", seed))
        self.score = nn.Linear(config.n_embd, len(self.label_names), bias=False)
        # N(0, 0.02) as HF initialises it: small logits, so the first loss is about ln(n).
        nn.init.normal_(self.score.weight, 0.0, 0.02, stream("classifier head", seed))

    @classmethod
    def from_gpt(cls, gpt, label_names, seed=None):
        """A classifier with `gpt`'s body (its weights copied) and a new head from `seed`."""
        classifier = cls(gpt.config, label_names, seed=seed)
        body = {name: array for name, array in gpt.state_dict().items()
                if name.startswith("transformer.")}        # not an untied LM head
        missing, unexpected = classifier.load_state_dict(body, strict=False)
        if missing != ["score.weight"] or unexpected:
            raise ValueError(f"cannot build a classifier on this model: missing {missing}, "
                             f"unexpected {unexpected}")
        return classifier

    def forward(self, idx, lengths=None):
        """idx (B, T) int token ids, right-padded; lengths (B,) ints, the real tokens in each
        row (None: every row is T real tokens) -> logits (B, n_classes)."""
        functional = functional_for(self.config)
        hidden = self.transformer(idx, functional=functional)                 # (B, T, C)
        check_lengths(lengths, *hidden.shape[:2])
        features = last_token_features(hidden, lengths)                       # (B, C)
        return self.score(features, functional)                               # (B, n_classes)

    def extra_repr(self):
        c = self.config
        return (f"vocab_size={c.vocab_size}, block_size={c.block_size}, n_layer={c.n_layer}, "
                f"n_head={c.n_head}, n_embd={c.n_embd}, labels={self.label_names}")

    # ----- checkpoints -----------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, directory, fused=True):
        """A classifier saved by `save_classifier` (or by HF's *ForSequenceClassification of
        GPT-2, Llama, Qwen2 or Qwen3)."""
        hf = read_config(directory)
        source = Path(directory) / CONFIG_FILE
        config = config_from_hf(hf, fused=fused, source=source)
        expected = classifier_architecture(config)
        if expected not in hf.get("architectures", []):
            raise ValueError(f"{directory} is not a classifier: its config.json lists "
                             f"architectures {hf.get('architectures')}, not {expected} "
                             f"(make one with `python -m gpt finetune-classify`)")
        # every parameter is read from the file next (see gpt.hf_checkpoint.load_pretrained)
        model = nn.utils.skip_init(cls, config, label_names_from_hf(hf, source), seed=0)
        if model_type(hf, source) == "gpt2":
            tensors = read_weights(directory)
            if "score.weight" not in tensors:
                raise ValueError(f"{Path(directory) / 'model.safetensors'} has no "
                                 f"score.weight: not a classifier")
            score = tensors.pop("score.weight")
            return load_weights_into(model, directory,
                                     {**hf_to_state_dict(tensors), "score.weight": score})
        params = dict(model.named_parameters())
        names = {**weight_names({name: p for name, p in params.items() if name != "score.weight"}),
                 "score.weight": ["score.weight"]}
        with open_weights(directory) as weights:
            fill_parameters(model, weights, names)
        return model

    def save_pretrained(self, directory, extra_config=None):
        """config.json (with the labels) and model.safetensors in HF's layout of the body's
        family; see `save_classifier` for a complete directory with the tokenizer."""
        labels = dict(enumerate(self.label_names))
        save_pretrained(self, directory, {
            "architectures": [classifier_architecture(self.config)], "num_labels": len(labels),
            "id2label": {str(i): name for i, name in labels.items()},
            "label2id": {name: i for i, name in labels.items()},
            **(extra_config or {})})


def last_token_features(hidden, lengths):
    """The hidden state of each row's last real token: hidden (B, T, C) Tensor, lengths B
    ints in [1, T] (a list or an array) or None (every row is T real tokens) -> (B, C) Tensor
    whose row b is hidden[b, lengths[b] - 1]. Indexing the Tensor (not its .data) keeps the
    result in the graph, so the head's gradient flows back into the body."""
    # BEGIN EXERCISE last_token_pooling: row b of the result is hidden[b, lengths[b] - 1]
    B, T = hidden.shape[:2]
    last = np.full(B, T - 1) if lengths is None else np.asarray(lengths) - 1     # (B,)
    return hidden[np.arange(B), last]
    # END EXERCISE last_token_pooling


def check_lengths(lengths, batch_size, T):
    """A ValueError unless lengths is None or (B,) integers between 1 and T."""
    if lengths is None:
        return
    lengths = np.asarray(lengths)
    if lengths.shape != (batch_size,) or lengths.dtype.kind not in "iu":
        raise ValueError(f"lengths must be {batch_size} integers, one per row, got "
                         f"{lengths.dtype} {lengths.shape}")
    if lengths.min() < 1 or lengths.max() > T:
        raise ValueError(f"lengths must be between 1 and the batch's {T} positions, got "
                         f"{lengths.min()} to {lengths.max()}")


def label_names_from_hf(hf, source="config.json"):
    """Label names in id order from config.json's id2label (HF's LABEL_i when it has none,
    num_labels of them); an id2label that does not number its names 0, 1, ... is an error
    naming `source`."""
    id2label = hf.get("id2label")
    if id2label is None:
        n_labels = integer(hf.get("num_labels", 2), f"{source}: num_labels", minimum=2)
        return [f"LABEL_{i}" for i in range(n_labels)]
    numbered = isinstance(id2label, dict) and set(id2label) == set(map(str, range(len(id2label))))
    if not (numbered and all(isinstance(name, str) for name in id2label.values())):
        raise ValueError(f"{source}: id2label must map \"0\", \"1\", ... to label names; got "
                         f"{id2label!r}")
    return [id2label[str(i)] for i in range(len(id2label))]


# ----- a whole directory: model, labels, tokenizer ---------------------------------------------

def save_classifier(model, tokenizer, directory):
    """Write the classifier and its tokenizer as a new directory, never over an existing one;
    an interrupted save leaves no half-written classifier behind (gpt.safeguards.output_dir)."""
    with atomic_directory(directory) as temporary:
        write_classifier(model, tokenizer, temporary)


def write_classifier(model, tokenizer, folder):
    """The classifier and its tokenizer, into the existing `folder`."""
    # the special-token ids from the tokenizer, as HF's config.json names them
    model.save_pretrained(folder, {"pad_token_id": padding_id(tokenizer),
                                   **token_ids_config(tokenizer)})
    save_tokenizer(tokenizer, folder)


def load_classifier(directory, fused=True):
    """(GPTClassifier, tokenizer) from a directory written by `save_classifier`."""
    model = GPTClassifier.from_pretrained(directory, fused=fused)
    return model, load_tokenizer(directory)
