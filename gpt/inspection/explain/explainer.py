"""What the explainer page shows, computed by the library itself: plain dicts and lists, ready
to be sent as JSON.

    explainer = Explainer.from_directory("runs/2024-05-01-1200")
    sequence = explainer.sequence(prompt="First Citizen:")    # ids, cropped to the context
    explainer.tokens(sequence)                  # each token: id, text, bytes
    explainer.attention(sequence, layer=0, head=1)            # (T, T) weights, rows sum to 1
    explainer.lens(sequence)                    # top guesses at every depth (the logit lens)
    explainer.distribution(sequence, temperature=0.8, top_k=10, top_p=0.9)

Every number comes from the code the rest of the project runs: the attention weights from
gpt.inspection.attention_maps (a hook on the model's own attention), the lens from
gpt.inspection.lens, the next-token logits from gpt.generate.next_logits and the filters from
gpt.sampling. Mistakes in a request (an empty prompt, a layer that does not exist, a top_p of 2)
are ValueErrors or TypeErrors whose message names the field.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tinytorch as tt
from tinytorch.nn import evaluating

from ...generate import next_logits
from ...model import GPT
from ...safeguards.checks import integer
from ...sampling import (check_sampling_arguments, sampling_probs, softmax, top_k_filter,
                         top_p_filter)
from ...tokenizers import encode_prompt, load_tokenizer
from ..attention_maps import attention_weights
from ..lens import read_out, residual_streams

# From the opening lines of tiny Shakespeare, which gpt2-tiny (and `gpt train --data
# tinyshakespeare.txt`) learned from; the text goes on " die than to famish?". Spaces and a
# newline for the token strip to show, and few enough tokens for a readable attention map.
EXAMPLE_PROMPT = "First Citizen:\nYou are all resolved rather to"
MOST_ROWS = 50          # the longest table of guesses a lens or distribution request may ask for


@dataclass(frozen=True)
class Sequence:
    """The token ids a request is about, after cropping to the model's context.

    ids      the ids the model sees (at most block_size)
    dropped  ids cut from the front because the text was longer than the context
    added    how many of the first ids the tokenizer's input template put before the text
             (Llama's <|begin_of_text|>), counted before cropping
    notes    sentences for the page about what was done to the input
    """
    ids: tuple
    dropped: tuple = ()
    added: int = 0
    notes: tuple = ()


class Explainer:
    """One model and its tokenizer, and what the page asks about them."""

    def __init__(self, model, tokenizer, name="model", example_prompt=None):
        """example_prompt: the text the page opens with; by default EXAMPLE_PROMPT, or as
        much of it as the tokenizer can encode (a character vocabulary may lack some)."""
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.special_ids = frozenset(tokenizer.special_tokens.values())
        if example_prompt is None:
            self.example_prompt = encodable_part(tokenizer, EXAMPLE_PROMPT)
        else:
            self.encode(example_prompt)         # a prompt the page cannot show: say so now
            self.example_prompt = example_prompt

    @classmethod
    def from_directory(cls, directory, example_prompt=None):
        """The model and tokenizer of a checkpoint directory (`gpt train`'s, or Hugging
        Face's)."""
        return cls(GPT.from_pretrained(directory), load_tokenizer(directory),
                   Path(directory).resolve().name, example_prompt)

    @property
    def config(self):
        return self.model.config

    def describe(self):
        """The model's shape and the page's opening prompt."""
        c = self.config
        return {"name": self.name, "n_layer": c.n_layer, "n_head": c.n_head,
                "n_embd": c.n_embd, "block_size": c.block_size, "vocab_size": c.vocab_size,
                "parameters": self.model.num_parameters(),
                "example_prompt": self.example_prompt}

    # ----- the input --------------------------------------------------------------------------

    def sequence(self, prompt=None, ids=None):
        """The Sequence for a text (`prompt`, encoded with special tokens allowed and the
        tokenizer's input template around it) or for token `ids` (a list of ints), exactly one
        of them. Longer than the context: the first tokens are dropped, as generation does,
        and a note says so."""
        if (prompt is None) == (ids is None):
            raise ValueError("give either prompt (a text) or ids (a list of token ids)")
        if prompt is not None:
            ids, added = self.encode(prompt)
        else:
            ids, added = self.checked_ids(ids), 0
        context = self.config.block_size
        if len(ids) <= context:
            return Sequence(tuple(ids), added=added)
        dropped = len(ids) - context
        note = (f"The text is {len(ids)} tokens long and the model's context is {context}: "
                f"the first {dropped} are left out, as generation leaves them out.")
        return Sequence(tuple(ids[dropped:]), tuple(ids[:dropped]), added, (note,))

    def encode(self, prompt):
        """Token ids for a text and how many ids the input template put before it."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a text, got {prompt!r}"[:200])
        if not prompt:
            raise ValueError("the prompt is empty: type some text for the model to continue")
        try:
            prompt.encode("utf-8")
        except UnicodeEncodeError as error:          # JSON can carry a lone "\ud800"
            raise ValueError(f"the prompt is not text: character {error.start} is a lone "
                             f"surrogate") from None
        return (encode_prompt(self.tokenizer, prompt),
                len(self.tokenizer.input_template.before))

    def checked_ids(self, ids):
        """`ids` as a list of ints, each an id of the model's vocabulary."""
        if not isinstance(ids, (list, tuple)) or not ids:
            raise TypeError(f"ids must be a non-empty list of token ids, got {ids!r}"[:200])
        largest = self.config.vocab_size - 1
        for position, token_id in enumerate(ids):
            integer(token_id, f"ids[{position}]")
            if token_id > largest:
                raise ValueError(f"ids[{position}] is {token_id}, outside the model's "
                                 f"vocabulary of {self.config.vocab_size} (ids 0 to {largest})")
        return [int(token_id) for token_id in ids]

    def index(self, sequence):
        """The ids as the (1, T) array the model takes."""
        return np.array([sequence.ids], dtype=np.int64)

    # ----- what the page shows ----------------------------------------------------------------

    def token(self, token_id):
        """One token for the page: its id, its text, its bytes (as hex) and whether that text
        is whole (byte-level BPE can split a character's bytes across tokens) or special."""
        try:
            raw = self.tokenizer.decode_bytes([int(token_id)])
        except ValueError:                       # a model id the tokenizer has no text for
            return {"id": int(token_id), "text": "", "bytes": "", "complete": False,
                    "special": False, "known": False}
        try:
            text, complete = raw.decode("utf-8"), True
        except UnicodeDecodeError:
            text, complete = raw.decode("utf-8", errors="replace"), False
        return {"id": int(token_id), "text": text, "bytes": raw.hex(), "complete": complete,
                "special": int(token_id) in self.special_ids, "known": True}

    def tokens(self, sequence):
        """The tokens the model sees, and those cropped off the front (which the page shows
        struck out); the first `added` of all of them came from the input template."""
        return {"tokens": [self.token(i) for i in sequence.ids],
                "dropped": [self.token(i) for i in sequence.dropped],
                "added": sequence.added, "context": self.config.block_size}

    def attention(self, sequence, layer, head):
        """Head `head` of block `layer`: weights[i][j] is how much token i looks at token j
        (rows sum to 1; 0 for j > i: a token never sees later ones)."""
        n_head = self.config.n_head
        integer(layer, "layer")
        integer(head, "head")
        if head >= n_head:
            raise ValueError(f"head {head} does not exist: the model has heads 0 to "
                             f"{n_head - 1}")
        weights = attention_weights(self.model, self.index(sequence), layer)[0, head]  # (T, T)
        return {"layer": layer, "head": head, "weights": weights.astype(float).tolist()}

    def lens(self, sequence, position=None, top=5):
        """The logit lens at one position (default the last): for the embeddings and after
        each block, the `top` tokens the final norm and LM head would predict from the
        residual stream there, with their probabilities, and the probability and rank each
        depth gives the token the model finally predicts. Read top to bottom: where the
        prediction forms."""
        T = len(sequence.ids)
        position = T - 1 if position is None else integer(position, "position")
        if position >= T:
            raise ValueError(f"position {position} does not exist: the text has positions 0 "
                             f"to {T - 1}")
        top = self.row_count(top, "top")
        streams = residual_streams(self.model, self.index(sequence))[:, 0, position]  # (L+1, C)
        probs = softmax(read_out(self.model, streams).astype(np.float64))          # (L+1, V)
        prediction = int(np.argmax(probs[-1]))
        names = ["embeddings"] + [f"block {i}" for i in range(self.config.n_layer)]
        rows = [{"name": name,
                 "guesses": self.ranked(row, top),
                 "prediction_probability": float(row[prediction]),
                 "prediction_rank": int(np.sum(row > row[prediction])) + 1}
                for name, row in zip(names, probs)]
        return {"position": position, "token": self.token(sequence.ids[position]),
                "prediction": self.token(prediction), "rows": rows}

    def distribution(self, sequence, temperature=1.0, top_k=None, top_p=None, show=20):
        """The next token's distribution and what sampling does to it: the `show` most likely
        tokens with their probability, their probability after the temperature, whether top-k
        and then top-p keep them, and the final probability `gpt.sampling` draws with
        (temperature 0: greedy, the most likely token with probability 1, no filters)."""
        check_sampling_arguments(temperature, top_k, top_p)
        show = self.row_count(show, "show", most=self.config.vocab_size)
        with evaluating(self.model), tt.no_grad():
            logits = next_logits(self.model, self.index(sequence))[0].astype(np.float64)  # (V,)
        if not np.isfinite(logits).all():
            raise FloatingPointError("the logits hold nan or inf (the model's activations "
                                     "overflowed): there is no distribution to show")
        kept_k, kept_p, final = filtered(logits, temperature, top_k, top_p)
        greedy = temperature == 0
        tempered = final if greedy else softmax_at(logits, temperature)
        order = np.argsort(-logits, kind="stable")[:show]                # most likely first
        probability = softmax(logits)
        rows = [{**self.token(i), "logit": float(logits[i]),
                 "probability": float(probability[i]), "tempered": float(tempered[i]),
                 "kept_top_k": None if greedy else bool(kept_k[i]),
                 "kept_top_p": None if greedy else bool(kept_p[i]),
                 "final": float(final[i])} for i in order]
        return {"top_k": top_k, "top_p": top_p, "greedy": greedy,
                "vocab_size": len(logits), "after_top_k": int(kept_k.sum()),
                "after_top_p": int(kept_p.sum()), "rows": rows}

    # ----- helpers ----------------------------------------------------------------------------

    def ranked(self, probabilities, top):
        """The `top` most likely tokens of probabilities (V,), most likely first, each with its
        probability."""
        order = np.argsort(-probabilities, kind="stable")[:top]
        return [{**self.token(i), "probability": float(probabilities[i])} for i in order]

    def row_count(self, value, name, most=MOST_ROWS):
        """A number of rows to show: an integer from 1 to `most` (and the vocabulary)."""
        value = integer(value, name, minimum=1)
        most = min(most, self.config.vocab_size)
        if value > most:
            raise ValueError(f"{name} must be at most {most}, got {value}")
        return value


def filtered(logits, temperature, top_k, top_p):
    """For logits (V,): which tokens top-k keeps, which of those top-p keeps (bool (V,) each,
    the filters of gpt.sampling in its order), and the probabilities sampling draws from
    (float64 (V,): gpt.sampling's own; one-hot on the argmax for temperature 0, as greedy
    decoding picks it, with every token kept)."""
    if temperature == 0:
        final = np.zeros_like(logits)
        final[np.argmax(logits)] = 1.0
        everything = np.ones(logits.shape, dtype=bool)
        return everything, everything, final
    # The same shift sampling_probs makes: a tiny temperature cannot overflow
    shifted = (logits - logits.max())[None]                                        # (1, V)
    with np.errstate(over="ignore"):
        after_k = shifted / temperature
    if top_k is not None:
        after_k = top_k_filter(after_k, int(top_k))
    after_p = after_k if top_p is None else top_p_filter(after_k, top_p)
    final = sampling_probs(logits[None], temperature, top_k, top_p)[0]
    return np.isfinite(after_k[0]), np.isfinite(after_p[0]), final


def softmax_at(logits, temperature):
    """softmax(logits / temperature) (V,), before any filter; an infinite temperature makes
    every token equally likely, as sampling draws then."""
    return sampling_probs(logits[None], temperature)[0]


def encodable_part(tokenizer, text):
    """`text` if the tokenizer can encode it, else the characters of it that it can (a
    character vocabulary learned from other text lacks some), so that the page opens on
    something."""
    try:
        tokenizer.encode(text, allowed_special="all")
        return text
    except ValueError:
        return "".join(ch for ch in text if can_encode(tokenizer, ch))


def can_encode(tokenizer, text):
    try:
        tokenizer.encode(text, allowed_special="all")
    except ValueError:
        return False
    return True
