"""Ctrl-C and SIGTERM: at once while a run is set up, then only where stopping is safe."""
import os
import signal

import pytest

from gpt.safeguards.stop_signals import Stopped, StopSignals


def test_a_signal_stops_at_once_until_deferred_then_only_when_checked():
    before = signal.getsignal(signal.SIGTERM)
    # put back as found: SIGINT is ignored where the tests run in the background (nohup, &)
    before_ctrl_c = signal.getsignal(signal.SIGINT)
    with StopSignals() as stop:
        with pytest.raises(Stopped) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)   # the handler runs (and raises) at once
        assert stopped.value.signum == signal.SIGTERM
    with StopSignals() as stop:
        stop.defer()
        stop.check()                             # nothing requested: goes on
        os.kill(os.getpid(), signal.SIGINT)      # Ctrl-C, then SIGTERM: only recorded
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(Stopped) as stopped:
            stop.check()
        assert stopped.value.signum == signal.SIGINT        # the first one counts
        assert isinstance(stopped.value, KeyboardInterrupt)
    assert signal.getsignal(signal.SIGTERM) == before
    assert signal.getsignal(signal.SIGINT) == before_ctrl_c
