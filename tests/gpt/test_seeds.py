"""The table of random streams: each consumer its own stream within a run, the values the
project has always used (so seeded results stay bit for bit what they were)."""
import numpy as np
import pytest

from gpt.seeds import COMMANDS, STREAMS, stream


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_no_two_consumers_of_one_run_share_a_stream(command):
    values = [STREAMS[name] for name in COMMANDS[command]]
    assert len(set(values)) == len(values), command


def test_every_stream_is_used_by_some_command():
    used = {name for names in COMMANDS.values() for name in names}
    assert used == set(STREAMS)


@pytest.mark.parametrize("name, seed_sequence", [
    ("weights", 7), ("dropout", [7, 1]), ("training batches", [7, 2]),
    ("training-loss evaluation", 17), ("validation", 27), ("classifier head", [7, 2]),
    ("lora", [7, 3]), ("classification batches", [7, 4]), ("instruction batches", [7, 2]),
    ("explain sampling", 7),
    ("preference split", 7), ("preference batches", [7, 2]),
])
def test_the_streams_keep_their_values(name, seed_sequence):
    expected = np.random.default_rng(seed_sequence).random(4)
    np.testing.assert_array_equal(stream(name, 7).random(4), expected)


def test_an_unknown_stream_is_named():
    with pytest.raises(KeyError, match="no random stream named 'dropuot'"):
        stream("dropuot", 0)


def test_no_seed_gives_a_fresh_generator():
    assert isinstance(stream("dropout", None), np.random.Generator)
