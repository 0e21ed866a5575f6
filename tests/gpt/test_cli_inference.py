"""`python -m gpt sample --num-beams / --draft-model / --int8` and `python -m gpt quantize`:
the text each prints is what the library makes with the same settings."""
import shutil

import numpy as np
import pytest

from gpt import GPT
from gpt.quantize import INT8_FILE, load_int8, quantize_int8
from gpt.tokenizers import encode_prompt, load_tokenizer, stop_ids

PROMPT = "ROMEO:"


def run_main(capsys, *args):
    """(exit status, stdout, stderr) of gpt.cli.main in this process."""
    from gpt.cli import main
    status = main([str(arg) for arg in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def llama(shared_data):
    directory = shared_data / "llama-tiny"
    return directory, GPT.from_pretrained(directory), load_tokenizer(directory)


def text_of(tokenizer, ids, stop):
    """What `sample` prints for new ids: the prompt, the text without end-of-text ids."""
    kept = [int(i) for i in ids if int(i) not in np.atleast_1d(stop)]
    return PROMPT + tokenizer.decode(kept) + "\n"


def test_num_beams_prints_the_best_beam(capsys, llama):
    directory, model, tokenizer = llama
    status, out, err = run_main(capsys, "sample", "--model", directory, "--prompt", PROMPT,
                                "--max-new-tokens", 15, "--num-beams", 3,
                                "--length-penalty", 0.5)
    assert status == 0 and err == ""
    prompt = encode_prompt(tokenizer, PROMPT)
    stop = stop_ids(tokenizer, model)
    best = model.generate(np.array([prompt]), 15, num_beams=3, length_penalty=0.5,
                          eos_token_id=stop)[0, len(prompt):]
    assert out == text_of(tokenizer, best, stop)
    greedy = model.generate(np.array([prompt]), 15, temperature=0, eos_token_id=stop)
    assert out != text_of(tokenizer, greedy[0, len(prompt):], stop)     # not greedy's text


def test_one_beam_is_greedy_decoding(capsys, llama):
    # --num-beams is deterministic for every K: one beam is greedy decoding (as Hugging Face's
    # num_beams=1, do_sample=False), not sampling at the default temperature
    directory, _, _ = llama
    common = ["sample", "--model", directory, "--prompt", PROMPT, "--max-new-tokens", 25]
    _, greedy, _ = run_main(capsys, *common, "--temperature", 0)
    status, one_beam, err = run_main(capsys, *common, "--num-beams", 1, "--seed", 5)
    assert status == 0 and err == "" and one_beam == greedy
    _, sampled, _ = run_main(capsys, *common, "--seed", 5)
    assert sampled != greedy                    # the seed would have made a difference


def test_a_draft_model_changes_nothing_in_the_text(capsys, llama):
    directory, _, _ = llama
    common = ["sample", "--model", directory, "--prompt", PROMPT, "--max-new-tokens", 25]
    for flags in (["--temperature", 0], ["--seed", 3, "--top-k", 1]):
        _, plain, _ = run_main(capsys, *common, *flags)
        status, drafted, err = run_main(capsys, *common, *flags, "--draft-model", directory,
                                        "--num-draft-tokens", 3)
        assert status == 0 and err == "" and drafted == plain


def test_a_draft_with_another_tokenizer_of_the_same_size_is_refused(capsys, llama,
                                                                     shared_data):
    directory, model, _ = llama
    other = shared_data / "gpt2-tiny"            # 512 tokens too, other ones
    assert GPT.from_pretrained(other).config.vocab_size == model.config.vocab_size
    status, out, err = run_main(capsys, "sample", "--model", directory, "--prompt", PROMPT,
                                "--max-new-tokens", 5, "--draft-model", other)
    assert status == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"error: --draft-model {other} has another tokenizer than --model")
    assert "token 0 is" in err


def test_a_draft_run_longer_than_the_context_says_how_many_tokens_fit(capsys, llama):
    directory, model, tokenizer = llama
    prompt_length = len(encode_prompt(tokenizer, PROMPT))
    status, out, err = run_main(capsys, "sample", "--model", directory, "--prompt", PROMPT,
                                "--draft-model", directory)          # 200 new tokens
    fit = model.config.block_size - prompt_length + 1
    assert status == 1 and err.count("\n") == 1 and f"at most {fit} new tokens fit" in err
    status, _, err = run_main(capsys, "sample", "--model", directory, "--prompt", PROMPT,
                              "--draft-model", directory, "--max-new-tokens", fit)
    assert status == 0 and err == ""


def test_quantize_writes_the_int8_file_that_sample_int8_reads(capsys, llama, tmp_path):
    directory, model, tokenizer = llama
    copy = tmp_path / "llama"
    shutil.copytree(directory, copy)
    common = ["sample", "--model", copy, "--prompt", PROMPT, "--max-new-tokens", 20,
              "--temperature", 0, "--int8"]
    _, quantised_on_load, _ = run_main(capsys, *common)
    status, out, err = run_main(capsys, "quantize", "--model", copy)
    assert status == 0 and err == "" and f"{INT8_FILE}: weights 632,064 bytes" in out
    status, from_file, err = run_main(capsys, *common)
    assert status == 0 and err == "" and from_file == quantised_on_load
    prompt = encode_prompt(tokenizer, PROMPT)
    stop = stop_ids(tokenizer, model)
    expected = quantize_int8(model).generate(np.array([prompt]), 20, temperature=0,
                                             eos_token_id=stop)[0, len(prompt):]
    assert from_file == text_of(tokenizer, expected, stop)
    assert load_int8(copy).config == model.config


def test_an_int8_file_older_than_the_weights_beside_it_is_refused(capsys, llama, tmp_path):
    """A run trained further after `quantize` (here: new weights saved over the old) must not
    sample from the old int8 weights; with the float weights gone the int8 file is the model."""
    directory, model, _ = llama
    copy = tmp_path / "llama"
    shutil.copytree(directory, copy)
    assert run_main(capsys, "quantize", "--model", copy)[0] == 0
    trained = GPT.from_pretrained(copy)
    trained.transformer.wte.weight.data[:] *= 1.5
    trained.save_pretrained(copy)
    status, out, err = run_main(capsys, "sample", "--model", copy, "--int8",
                                "--max-new-tokens", 5)
    assert status == 1 and out == "" and err.count("\n") == 1
    assert f"{INT8_FILE} was quantised from other weights" in err and "gpt quantize" in err
    assert run_main(capsys, "quantize", "--model", copy)[0] == 0      # quantised again: fine
    assert run_main(capsys, "sample", "--model", copy, "--int8", "--max-new-tokens", 5)[0] == 0
    trained.save_pretrained(copy)
    (copy / "model.safetensors").unlink()
    assert load_int8(copy).config == model.config


def test_flag_mistakes_are_one_line_before_any_model_is_loaded(capsys, tmp_path):
    # tmp_path holds no model: the flags are what the error is about
    for flags, message in ((["--num-beams", 2, "--top-k", 4],
                            "--num-beams 2 is deterministic beam search: --top-k does not "
                            "apply"),
                           (["--num-beams", 1, "--temperature", 0.5],
                            "--num-beams 1 is deterministic (one beam: greedy decoding): "
                            "--temperature does not apply"),
                           (["--num-beams", 1, "--length-penalty", 2],
                            "--length-penalty applies to beam search only: give --num-beams K "
                            "(K >= 2)"),
                           (["--early-stopping"], "--early-stopping applies to beam search "
                                                  "only: give --num-beams K (K >= 2)"),
                           (["--num-draft-tokens", 2], "--num-draft-tokens applies to "
                                                       "speculative decoding only")):
        status, out, err = run_main(capsys, "sample", "--model", tmp_path, *flags)
        assert status == 1 and out == "" and err.startswith(f"error: {message}")
        assert err.count("\n") == 1
