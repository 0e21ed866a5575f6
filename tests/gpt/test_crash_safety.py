"""Crash-safe training runs: no kill, full disk or signal loses a run or breaks its resume.

Each fault happens for real in a forked copy of this process (which shares the set-up: no
fresh Python per case): the child wraps os's file operations (only there, never in library
code) to count them, and at the chosen one kills itself with SIGKILL (no cleanup runs, as
with a real kill), makes the operation fail with ENOSPC (a full disk) or sends itself a
signal. The operations are enumerated from a recorded run, not hard-coded. Then this process
resumes (or reruns) the run and compares every logged line and the final weights with an
uninterrupted run, with ==.
"""
import errno
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

import tinytorch as tt
from gpt import train as train_module
from gpt.safeguards.stop_signals import Stopped
from gpt.train import TrainConfig, train

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, "
        "speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to famish?\n\n") * 20
TIMING = ("ms_per_iter", "tokens_per_sec")         # measured times: never compared
RUN_FILES = ["config.json", "loss.svg", "metrics.jsonl", "model.safetensors",
             "tokenizer.chars.json", "train_state.npz"]
# What the wrapped os functions are: every change to the file system a save makes.
FILE_OPERATIONS = ("mkdir", "rmdir", "open", "fsync", "link", "rename", "replace", "remove",
                   "unlink")
CAN_RUN_OUT_OF_SPACE = ("mkdir", "open", "fsync", "link", "rename", "replace")


def quiet(*_):
    pass


@pytest.fixture(scope="module")
def workspace():
    """A folder on tmpfs where there is one (fsync costs nothing there, and a kill keeps
    what was written either way: the page cache survives a process)."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    folder = Path(tempfile.mkdtemp(prefix="crash-safety-", dir=base))
    (folder / "corpus.txt").write_text(TEXT, encoding="utf-8")
    yield folder
    shutil.rmtree(folder)


def tiny_config(workspace, name, **overrides):
    """Three saves: iteration 0, after the evaluation at 2, and the final one at 4."""
    settings = dict(data=str(workspace / "corpus.txt"), out=str(workspace / name), char=True,
                    n_layer=1, n_head=1, n_embd=8, block_size=8, batch_size=2, max_iters=4,
                    warmup_iters=1, eval_interval=2, eval_iters=1, log_interval=1,
                    sample_tokens=0, seed=3, dropout=0.1)
    settings.update(overrides)
    return TrainConfig(**settings)


def logged(out):
    """Every line of metrics.jsonl, without the measured times."""
    lines = (Path(out) / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def outcome(out, result):
    """What an uninterrupted run must equal: every logged line, the final weights and
    validation loss, and nothing in the directory but the run's files."""
    out = Path(out)
    return {"logged": logged(out), "weights": (out / "model.safetensors").read_bytes(),
            "val_loss": result["val_loss"], "files": sorted(os.listdir(out))}


@pytest.fixture(scope="module")
def reference(workspace):
    result = train(tiny_config(workspace, "reference"), log=quiet)
    return outcome(workspace / "reference", result)


# ----- faults in a forked child ----------------------------------------------------------------

class FileOperations:
    """Wraps os's file operations in this (child) process: each change to the file system is
    counted and recorded as (operation, path, iteration being saved or None), and
    `fault(name, path)` runs before the one numbered `at` (if it is one of `faulty`), or, if
    `lasting`, before every one of `faulty` from there on (a disk that stays full)."""

    def __init__(self, within, at=None, fault=None, faulty=FILE_OPERATIONS, lasting=False):
        self.within = os.fspath(within)
        self.at, self.fault, self.faulty, self.lasting = at, fault, faulty, lasting
        self.done = []
        self.saving = None

    def install(self):
        for name in FILE_OPERATIONS:
            setattr(os, name, self._wrap(name, getattr(os, name)))
        save = train_module.Run.save

        def marked_save(run):
            self.saving = run.iteration
            try:
                save(run)
            finally:
                self.saving = None
        train_module.Run.save = marked_save
        return self

    def _wrap(self, name, operation):
        def wrapped(*args, **kwargs):
            if name == "open" and not args[1] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
                return operation(*args, **kwargs)            # reading changes nothing
            path = describe(args[0], kwargs.get("dir_fd"))
            if not path.startswith(self.within):
                return operation(*args, **kwargs)            # not the run's
            number = len(self.done)
            self.done.append((name, path, self.saving))
            reached = self.at is not None and number >= self.at
            if reached and name in self.faulty and (self.lasting or number == self.at):
                self.fault(name, path)
            return operation(*args, **kwargs)
        return wrapped


def describe(target, dir_fd=None):
    """The path of `target`: a path (relative to `dir_fd` if given) or an open descriptor."""
    if isinstance(target, int):
        return os.readlink(f"/proc/self/fd/{target}")
    if dir_fd is not None:
        return os.path.join(os.readlink(f"/proc/self/fd/{dir_fd}"), target)
    return os.fspath(target)


def in_child(work):
    """Run work() in a forked copy of this process; returns (exit code, what it returned:
    JSON-able) - the exit code is -9 if it killed itself."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        code = 0
        try:
            reply = json.dumps(work())
        except BaseException as error:               # reported, not raised, in a child
            reply = json.dumps({"raised": type(error).__name__, "message": str(error),
                                "signum": getattr(error, "signum", None),
                                "errno": getattr(error, "errno", None)})
            code = 1
        with os.fdopen(write_end, "w") as pipe:
            pipe.write(reply)
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        reply = pipe.read()
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    return code, json.loads(reply) if reply else None


def kill_myself(name, path):
    os.kill(os.getpid(), signal.SIGKILL)


def no_space(name, path):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


@pytest.fixture(scope="module")
def recorded_operations(workspace):
    """Every file operation of a whole run (start, three saves, end), in order."""
    config = tiny_config(workspace, "recorded")

    def record():
        operations = FileOperations(config.out).install()
        train(config, log=quiet)
        return operations.done

    code, operations = in_child(record)
    assert code == 0, operations
    return operations


def first_save_done(operations):
    """The number of operations up to the end of the first save (of iteration 0)."""
    return max(i for i, (_, _, saving) in enumerate(operations) if saving == 0) + 1


def finish_and_compare(workspace, name, operations, at, reference):
    """After a fault at operation `at`: rerun the same command if the first save may not
    have finished, else resume; the outcome must equal the uninterrupted run's. Returns the
    iteration the run continued from."""
    config = tiny_config(workspace, name)
    if at < first_save_done(operations):
        result = train(config, log=quiet)                  # the same command again
        start = 0
    else:
        result = train(config, resume=True, log=quiet)
        start = min(result["losses"], default=config.max_iters + 1) - 1
    assert outcome(workspace / name, result) == reference, (at, operations[at])
    return start


def saves_before(operations, at):
    """The iterations whose saves had finished before operation `at`."""
    finished = {saving for _, _, saving in operations[:at] if saving is not None}
    under_way = operations[at][2] if at < len(operations) else None
    return sorted(finished - {under_way})


def test_the_recorded_run_saves_three_times_and_leaves_only_its_files(
        recorded_operations, reference):
    saves = sorted({saving for _, _, saving in recorded_operations if saving is not None})
    assert saves == [0, 2, 4]
    assert reference["files"] == RUN_FILES
    assert [line["iter"] for line in reference["logged"]] == [1, 2, 2, 3, 4, 4]


def test_a_kill_at_every_file_operation_of_a_run_resumes_exactly(
        workspace, recorded_operations, reference):
    config = tiny_config(workspace, "killed")
    for at in range(len(recorded_operations) + 1):         # + 1: just after the last one
        code = killed_at(config, at)
        assert code == (-signal.SIGKILL if at < len(recorded_operations) else 0), at
        start = finish_and_compare(workspace, "killed", recorded_operations, at, reference)
        # it continued from the last checkpoint saved before the kill, or from the one whose
        # save the kill cut short after every new file was in place
        if at >= first_save_done(recorded_operations):
            under_way = recorded_operations[at][2] if at < len(recorded_operations) else None
            assert start in (saves_before(recorded_operations, at)[-1], under_way), at
        rmtree(workspace / "killed")


def killed_at(config, at, resume=False):
    """Train (or resume) `config` in a child that kills itself at file operation `at`."""
    def work():
        FileOperations(config.out, at=at, fault=kill_myself).install()
        train(config, resume=resume, log=quiet)
    return in_child(work)[0]


def test_a_kill_while_recovering_from_a_kill_is_recovered_from_too(
        workspace, recorded_operations, reference):
    # killed while the second save moved its files into place: old and new files are mixed,
    # and the next start must put the previous checkpoint (of iteration 0) back
    config = tiny_config(workspace, "twice")
    out, snapshot = workspace / "twice", workspace / "twice-snapshot"
    moves = [at for at, (name, path, saving) in enumerate(recorded_operations)
             if saving == 2 and name == "replace" and "/.checkpoint-staging/" in path
             and ".tmp-" not in path]
    assert len(moves) == 5
    assert killed_at(config, moves[2]) == -signal.SIGKILL
    shutil.copytree(out, snapshot)

    def record_resume():
        operations = FileOperations(config.out).install()
        train(config, resume=True, log=quiet)
        return operations.done

    code, resume_operations = in_child(record_resume)
    assert code == 0, resume_operations
    recovering = [at for at, (_, _, saving) in enumerate(resume_operations) if saving is None]
    assert len(recovering) > 10 and recovering == list(range(len(recovering)))
    for at in recovering:                    # killed again, at each operation of recovery
        rmtree(out)
        shutil.copytree(snapshot, out)
        assert killed_at(config, at, resume=True) == -signal.SIGKILL, at
        resumed = train(config, resume=True, log=quiet)
        assert sorted(resumed["losses"]) == [1, 2, 3, 4]
        assert outcome(out, resumed) == reference, (at, resume_operations[at])
    rmtree(out)
    rmtree(snapshot)


@pytest.mark.parametrize("lasting", [False, True], ids=["one-write-fails", "disk-stays-full"])
def test_a_full_disk_during_a_save_is_one_error_and_the_run_resumes_once_there_is_space(
        workspace, recorded_operations, reference, lasting):
    config = tiny_config(workspace, "full")
    out = workspace / "full"
    # every operation that can run out of space in the second save (with a checkpoint to keep
    # aside while replacing it; the third is like it) and, for a disk that stays full, in the
    # first (with none)
    saves = (0, 2) if lasting else (2,)
    failing = [at for at, (name, path, saving) in enumerate(recorded_operations)
               if name in CAN_RUN_OUT_OF_SPACE and saving in saves
               and recorded_operations[at - 1][:2] != [name, path]]
    # (a second mkdir of a folder just made, as save_pretrained makes sure the folder it is
    # given exists, fails with EEXIST, never for lack of space)
    assert len(failing) > 20 * len(saves)
    for at in failing:
        def full_disk_at_operation():
            FileOperations(config.out, at=at, fault=no_space, faulty=CAN_RUN_OUT_OF_SPACE,
                           lasting=lasting).install()
            train(config, log=quiet)

        code, error = in_child(full_disk_at_operation)
        saving, saved = recorded_operations[at][2], saves_before(recorded_operations, at)
        assert code == 1 and error["errno"] == errno.ENOSPC, (at, error)
        assert f"could not save iteration {saving}; " in error["message"]
        assert ".checkpoint" not in error["message"] and ".tmp" not in error["message"]
        if saved:
            assert f"holds the checkpoint of iteration {saved[-1]}" in error["message"]
        if not lasting:
            # with space for it, the failed save cleaned up after itself at once: the
            # previous checkpoint (or none), and nothing else
            assert not [name for name in os.listdir(out) if name.startswith(".")], at
            state = out / "train_state.npz"
            assert (tt.load(state)["iteration"] if saved else state.exists()) == (
                saved[-1] if saved else False)
        finish_and_compare(workspace, "full", recorded_operations, at, reference)
        rmtree(out)


def rmtree(path):
    shutil.rmtree(path)


# ----- signals --------------------------------------------------------------------------------

def stopped_run(config, arrange):
    """Train `config` in a child after `arrange()` set up a signal; returns what it logged and
    the signal it stopped with (None if it did not stop)."""
    def work():
        arrange()
        lines = []
        try:
            train(config, log=lines.append)
        except Stopped as stopped:
            return {"log": lines, "signum": stopped.signum}
        return {"log": lines, "signum": None}

    code, reply = in_child(work)
    assert code == 0, reply
    return reply


def two_signals(first, second):
    def send(name, path):
        os.kill(os.getpid(), first)
        os.kill(os.getpid(), second)
    return send


def assert_stopped_and_saved(workspace, name, reply, signum, iteration):
    """The run stopped with `signum`, saying it saved `iteration`, which it did, cleanly."""
    out = workspace / name
    assert reply["signum"] == signum
    assert reply["log"][-1] == (f"stopped at iteration {iteration}; checkpoint saved in {out} "
                                f"(continue with --resume --out {out})")
    assert tt.load(out / "train_state.npz")["iteration"] == iteration
    assert sorted(os.listdir(out)) == RUN_FILES           # no helper folder, no temporary


def test_signals_during_a_save_let_it_finish_then_stop_with_that_iteration_saved(
        workspace, recorded_operations, reference):
    # Ctrl-C (SIGINT) or SIGTERM, and a second signal at once, at every file operation of
    # the save of iteration 2: the save completes, then the run stops.
    config = tiny_config(workspace, "signalled")
    for at, (_, _, saving) in enumerate(recorded_operations):
        if saving != 2:
            continue
        first, second = ((signal.SIGINT, signal.SIGTERM) if at % 2 else
                         (signal.SIGTERM, signal.SIGINT))
        reply = stopped_run(config, lambda: FileOperations(
            config.out, at=at, fault=two_signals(first, second)).install())
        assert_stopped_and_saved(workspace, "signalled", reply, first, 2)
        resumed = train(config, resume=True, log=quiet)
        assert sorted(resumed["losses"]) == [3, 4]
        assert outcome(workspace / "signalled", resumed) == reference, at
        rmtree(workspace / "signalled")


@pytest.fixture(scope="module")
def batch_calls(workspace):
    """For every batch a run draws, in order: who drew it (train_step or estimate_loss)."""
    config = tiny_config(workspace, "batches")

    def record():
        callers = []
        get_batch = train_module.get_batch

        def recording_get_batch(*args):
            callers.append(sys._getframe(1).f_code.co_name)
            return get_batch(*args)
        train_module.get_batch = recording_get_batch
        train(config, log=quiet)
        return callers

    code, callers = in_child(record)
    assert code == 0, callers
    return callers


def signal_at_batch(number, signum):
    """Arrange for `signum` to arrive while the run draws batch `number` (from 0)."""
    def arrange():
        get_batch = train_module.get_batch
        drawn = []

        def signalling_get_batch(*args):
            if len(drawn) == number:
                os.kill(os.getpid(), signum)
            drawn.append(number)
            return get_batch(*args)
        train_module.get_batch = signalling_get_batch
    return arrange


def test_a_signal_during_training_or_an_evaluation_saves_the_latest_completed_iteration(
        workspace, batch_calls, reference):
    # iteration 1 .. 4: one batch each (train_step); the evaluation at 2 and the final one
    # at 4: estimate_loss, one training batch then the validation batches (1, then 400)
    assert batch_calls == ["train_step"] * 2 + ["estimate_loss"] * 2 + ["train_step"] * 2 + [
        "estimate_loss"] * 401
    config = tiny_config(workspace, "interrupted")
    for number in [0, 1, 2, 3, 4, 5, 6, 7, 206, 406]:
        signum = (signal.SIGINT, signal.SIGTERM)[number % 2]
        reply = stopped_run(config, signal_at_batch(number, signum))
        # a training step finishes; an evaluation is abandoned (unless the signal came during
        # its last batch) and its iteration saved without it
        latest = batch_calls[:number + 1].count("train_step")
        assert_stopped_and_saved(workspace, "interrupted", reply, signum, latest)
        evaluated = any(line.startswith(f"eval  iter {latest:5d}") for line in reply["log"])
        last_of_evaluation = batch_calls[number:number + 2] in (["estimate_loss"],
                                                               ["estimate_loss", "train_step"])
        assert evaluated == last_of_evaluation, number
        resumed = train(config, resume=True, log=quiet)
        assert outcome(workspace / "interrupted", resumed) == reference, number
        rmtree(workspace / "interrupted")


def test_a_signal_during_the_sample_keeps_the_finished_run(workspace, reference):
    config = tiny_config(workspace, "sampled", sample_tokens=5)

    def arrange():
        generate = train_module.GPT.generate

        def signalling_generate(model, idx, max_new_tokens, on_token, **options):
            chosen = []

            def signal_at_the_third(token):
                chosen.append(token)
                if len(chosen) == 3:
                    os.kill(os.getpid(), signal.SIGTERM)
                return on_token(token)
            return generate(model, idx, max_new_tokens, on_token=signal_at_the_third, **options)
        train_module.GPT.generate = signalling_generate

    reply = stopped_run(config, arrange)
    assert_stopped_and_saved(workspace, "sampled", reply, signal.SIGTERM, 4)
    assert not [line for line in reply["log"] if line.startswith("sample:")]
    resumed = train(config, resume=True, log=quiet)          # nothing left but the sample
    assert resumed["losses"] == {} and len(resumed["sample"]) == 5
    assert outcome(workspace / "sampled", resumed) == reference


def test_max_iters_below_eval_interval_loses_nothing(workspace):
    # no evaluation (and so no periodic save) before the end: a signal still saves the
    # latest iteration, and a kill still leaves the checkpoint of iteration 0
    config = tiny_config(workspace, "short", eval_interval=100)
    whole = train(tiny_config(workspace, "short-reference", eval_interval=100), log=quiet)
    expected = outcome(workspace / "short-reference", whole)
    reply = stopped_run(config, signal_at_batch(2, signal.SIGINT))
    assert_stopped_and_saved(workspace, "short", reply, signal.SIGINT, 3)
    assert outcome(workspace / "short", train(config, resume=True, log=quiet)) == expected
    rmtree(workspace / "short")

    def killed_in_iteration_3():
        signal_at_batch(2, signal.SIGKILL)()
        train(config, log=quiet)

    assert in_child(killed_in_iteration_3)[0] == -signal.SIGKILL
    assert tt.load(workspace / "short" / "train_state.npz")["iteration"] == 0
    resumed = train(config, resume=True, log=quiet)
    assert sorted(resumed["losses"]) == [1, 2, 3, 4]
    assert outcome(workspace / "short", resumed) == expected
