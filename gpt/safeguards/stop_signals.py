"""Ctrl-C and SIGTERM as a request to stop a training run where stopping is safe.

A signal that raises KeyboardInterrupt wherever Python happens to be can land in the middle of
a save, or of an optimizer step that has updated half the weights. So while a run trains,
StopSignals only records the signal, and the run asks `check()` at the places where it can
stop cleanly (gpt.train: after a step, between the batches of an evaluation, between sampled
tokens, after a save), saves the latest completed iteration there and raises Stopped.
"""
import signal


class Stopped(KeyboardInterrupt):
    """A run stopped by a signal (SIGINT, which Ctrl-C sends, or SIGTERM), after saving what
    it could. `signum` says which: the command line exits with 128 + signum, as a shell
    reports a process ended by that signal."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGINT (Ctrl-C) and SIGTERM, taken as a request to stop.

    Until `defer()` (while a run is being set up, with nothing to save yet) a signal raises
    Stopped at once. After it, a signal only records the request (a second one changes
    nothing), and the run calls `check()` wherever stopping is safe: after a training step,
    before each batch of an evaluation, after each token of the sample, after a save. So a
    save is never cut short by a signal."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signum = None            # the first signal received
        self.deferred = False
        self._previous = {}

    def __enter__(self):
        try:
            for signum in self.SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        except ValueError:            # not the main thread: signals cannot be handled here
            pass
        return self

    def _handle(self, signum, frame):
        if self.signum is None:
            self.signum = signum
        if not self.deferred:
            raise Stopped(signum)

    def defer(self):
        self.deferred = True

    def check(self):
        if self.signum is not None:
            raise Stopped(self.signum)

    def __exit__(self, *exc):
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        return False
