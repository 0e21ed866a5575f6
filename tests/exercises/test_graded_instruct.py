"""Graded tests of the instruction-tuning chapter (14_instruction_tuning.py): a batch of
examples as inputs and targets, shifted by one, padded, with -100 where the loss must not look."""
import numpy as np

from gpt.finetune.instructions import Example, collate

IGNORE = -100


def example(ids, prompt_length):
    return Example(record={}, ids=list(ids), prompt_length=prompt_length)


class TestInstructionCollate:
    def test_by_hand(self):
        long, short = example([10, 11, 12, 13, 0], 3), example([20, 21, 0], 2)
        inputs, targets = collate([long, short], pad_id=0)
        np.testing.assert_array_equal(inputs, [[10, 11, 12, 13], [20, 21, 0, 0]])
        np.testing.assert_array_equal(targets, [[11, 12, 13, 0], [21, 0, IGNORE, IGNORE]])
        assert inputs.dtype == targets.dtype == np.int64

    def test_the_prompt_masked(self):
        short, long = example([20, 21, 0], 2), example([10, 11, 12, 13, 0], 3)
        _, targets = collate([short, long], pad_id=0, mask_prompt=True)
        # targets[t] is ids[t + 1]: masked while that is still a prompt token
        np.testing.assert_array_equal(targets, [[IGNORE, 0, IGNORE, IGNORE],
                                                [IGNORE, IGNORE, 13, 0]])

    def test_a_prompt_of_one_token_masks_no_target(self):
        _, targets = collate([example([5, 6, 7, 1], 1)], pad_id=1, mask_prompt=True)
        np.testing.assert_array_equal(targets, [[6, 7, 1]])

    def test_padding_with_another_id(self):
        inputs, targets = collate([example([1, 2, 3, 4, 5, 9], 2), example([7, 8, 9], 1)],
                                  pad_id=9)
        np.testing.assert_array_equal(inputs, [[1, 2, 3, 4, 5], [7, 8, 9, 9, 9]])
        # the example's own end-of-text (9) is a target; the padding after it is not
        np.testing.assert_array_equal(targets, [[2, 3, 4, 5, 9], [8, 9, IGNORE, IGNORE, IGNORE]])

    def test_every_example_the_same_length(self):
        inputs, targets = collate([example([1, 2, 3], 1), example([4, 5, 6], 2)], pad_id=0,
                                  mask_prompt=True)
        np.testing.assert_array_equal(inputs, [[1, 2], [4, 5]])
        np.testing.assert_array_equal(targets, [[2, 3], [IGNORE, 6]])

    def test_random_batches_against_a_loop(self):
        rng = np.random.default_rng(0)
        examples = []
        for _ in range(6):
            n = int(rng.integers(2, 12))
            examples.append(example(rng.integers(1, 50, n).tolist() + [0], int(rng.integers(1, n))))
        for mask_prompt in (False, True):
            inputs, targets = collate(examples, pad_id=0, mask_prompt=mask_prompt)
            T = max(len(e.ids) for e in examples) - 1
            assert inputs.shape == targets.shape == (6, T)
            for row, e in enumerate(examples):
                n = len(e.ids) - 1
                expected = list(e.ids[1:])
                if mask_prompt:
                    expected[:e.prompt_length - 1] = [IGNORE] * (e.prompt_length - 1)
                assert inputs[row].tolist() == e.ids[:-1] + [0] * (T - n)
                assert targets[row].tolist() == expected + [IGNORE] * (T - n)

    def test_the_examples_are_left_alone(self):
        examples = [example([1, 2, 3, 0], 2), example([4, 0], 1)]
        collate(examples, pad_id=0, mask_prompt=True)
        assert [e.ids for e in examples] == [[1, 2, 3, 0], [4, 0]]
        assert [e.prompt_length for e in examples] == [2, 1]
