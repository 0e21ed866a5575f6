"""Generation one token at a time, for the page's "next token" button: the loop of
gpt.generate, one turn per request, with its KV cache kept between requests.

    generation = Generation(model, ids=[...], seed=0)
    generation.step(temperature=0.8, top_k=None, top_p=0.9)   # one new token, the cache length

A session's tokens are those `model.generate(idx, n, temperature, top_k, top_p, seed=seed)`
gives: the same next_logits over the same cache, the same next_tokens, the same random stream.
"""
from collections import OrderedDict

import numpy as np

import tinytorch as tt
from tinytorch.nn import evaluating

from ...generate import next_logits
from ...kv_cache import KVCache
from ...safeguards.checks import integer
from ...sampling import check_sampling_arguments, next_tokens, sampling_probs
from ...seeds import stream

MOST_SESSIONS = 16      # generations kept at once; starting another ends the oldest


class Generation:
    """A sequence being continued: its ids (1, T), its KV cache and its random stream."""

    def __init__(self, model, ids, seed=None):
        if seed is not None:
            integer(seed, "seed")
        self.model = model
        self.ids = np.array([ids], dtype=np.int64)                                # (1, T)
        self.cache = KVCache.for_model(model, batch_size=1)
        # the stream generate(seed=...) draws from, so that the tokens are the same
        self.generator = stream("explain sampling", seed)

    def step(self, temperature=1.0, top_k=None, top_p=None):
        """Choose and append one token. The first step runs the whole prompt into the cache;
        each later one feeds only the newest token, so the cache grows by one, until the
        sequence outgrows the context: then the window slides and the cache is rebuilt from
        it (its length stays block_size)."""
        check_sampling_arguments(temperature, top_k, top_p)      # before the model runs
        # longer than the context: next_logits reads the last block_size tokens afresh
        window_slid = self.ids.shape[1] > self.model.config.block_size
        with evaluating(self.model), tt.no_grad():
            logits = next_logits(self.model, self.ids, self.cache)                # (1, V)
        token = next_tokens(logits, temperature, top_k, top_p, self.generator)   # (1,)
        chosen = int(token[0])
        probability = 1.0 if temperature == 0 else float(
            sampling_probs(logits, temperature, top_k, top_p)[0, chosen])
        self.ids = np.concatenate([self.ids, token[:, None]], axis=1)
        return {"token": chosen, "probability": probability,
                "cache_length": self.cache.length, "window_slid": window_slid,
                "ids": self.ids[0].tolist()}


class Sessions:
    """The generations under way, by number; at most MOST_SESSIONS (the oldest ends first)."""

    def __init__(self, most=MOST_SESSIONS):
        self.most = most
        self.generations = OrderedDict()
        self.last_number = 0

    def start(self, generation):
        self.last_number += 1
        self.generations[self.last_number] = generation
        while len(self.generations) > self.most:
            self.generations.popitem(last=False)
        return self.last_number

    def get(self, number):
        integer(number, "session")
        if number not in self.generations:
            raise ValueError(f"no generation session {number}: it has ended (the server keeps "
                             f"the {self.most} most recent); start again from the prompt")
        self.generations.move_to_end(number)
        return self.generations[number]
