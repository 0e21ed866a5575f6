"""Graded tests of the classification chapter (13_classify_spam.py): the hidden state of each
text's last real token, the one the classifier's head reads."""
import numpy as np

import tinytorch as tt
from gpt import GPTConfig
from gpt.finetune.classifier import GPTClassifier, last_token_features
from gpt.data import pad_batch


def hidden_states(B=3, T=5, C=4, seed=0):
    values = np.random.default_rng(seed).standard_normal((B, T, C))
    return tt.tensor(values, requires_grad=True), values


class TestLastTokenPooling:
    def test_the_last_real_token_of_each_row(self):
        hidden, values = hidden_states()
        features = last_token_features(hidden, np.array([5, 1, 3]))
        assert features.shape == (3, 4)
        np.testing.assert_array_equal(features.data, [values[0, 4], values[1, 0], values[2, 2]])

    def test_lengths_as_a_list(self):
        hidden, values = hidden_states(B=2, T=3)
        features = last_token_features(hidden, [2, 3])
        np.testing.assert_array_equal(features.data, [values[0, 1], values[1, 2]])

    def test_no_lengths_means_every_row_is_full(self):
        hidden, values = hidden_states(B=2, T=6)
        np.testing.assert_array_equal(last_token_features(hidden, None).data, values[:, -1])

    def test_one_row(self):
        hidden, values = hidden_states(B=1, T=4)
        np.testing.assert_array_equal(last_token_features(hidden, np.array([2])).data,
                                      values[:, 1])

    def test_the_gradient_reaches_exactly_those_positions(self):
        hidden, _ = hidden_states()
        features = last_token_features(hidden, np.array([2, 5, 1]))
        features.backward(np.ones((3, 4)))
        expected = np.zeros((3, 5, 4))
        expected[0, 1] = expected[1, 4] = expected[2, 0] = 1.0
        np.testing.assert_array_equal(hidden.grad, expected)

    def test_padding_does_not_change_a_text_s_logits(self):
        config = GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8)
        classifier = GPTClassifier(config, ("ham", "spam"), seed=0).to(np.float64)
        texts = [[3, 1, 4, 1, 5], [9, 2], [6]]
        idx, lengths = pad_batch(texts, pad_id=0)
        with tt.no_grad():
            batched = classifier(idx, lengths).data
            alone = [classifier(np.array([ids]), np.array([len(ids)])).data[0] for ids in texts]
        np.testing.assert_allclose(batched, alone, rtol=1e-10, atol=1e-12)
