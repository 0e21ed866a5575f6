"""Shared test set-up: the Hypothesis profiles and where the reference data lives."""
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# "ci" is the default: derandomized (the same examples every run) and no deadline (a busy
# 2-core machine must not turn a slow example into a failure). HYPOTHESIS_PROFILE=dev explores more.
settings.register_profile(
    "ci", derandomize=True, deadline=None, max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from exercise_tests import (EXERCISE_TESTS, dependencies_still_blank, do_first_message,
                            exercises_of, read_manifest)

ROOT = Path(__file__).resolve().parent.parent
# ../shared/data beside the project; TINYGPT_SHARED_DATA points elsewhere (a student copy of
# the project made by examples/make_exercises.py can live anywhere).
SHARED_DATA = Path(os.environ.get("TINYGPT_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data():
    """The reference data folder (../shared/data). Skips, with the reason, in a user's clone
    that does not have it; .ci/run refuses to start without it, so CI never skips here."""
    if not SHARED_DATA.is_dir():
        if os.environ.get("TINYGPT_REQUIRE_DATA"):
            pytest.fail(f"reference data not found at {SHARED_DATA} (required in CI)")
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


# {exercise: [(dependency still blank, where)]} in a student copy (tests/exercise_tests.py)
WAITING = pytest.StashKey()


def pytest_configure(config):
    for name in EXERCISE_TESTS:
        config.addinivalue_line("markers", f"{name}: the tests that grade exercise {name}")


def pytest_collection_modifyitems(config, items):
    """Mark each test with the exercises it grades (tests/exercise_tests.py), so that
    `pytest -m <exercise>` selects them. In a student copy, note which exercises still wait
    for blank ones their tests run."""
    for item in items:
        for name in exercises_of(item.nodeid):
            item.add_marker(getattr(pytest.mark, name))
    manifest = read_manifest()
    config.stash[WAITING] = dependencies_still_blank(manifest) if manifest else {}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item):
    """In a student copy, a test of an exercise whose tests run another exercise that is
    still blank fails at once (before its body runs), naming that one, rather than with the
    other one's NotImplementedError."""
    waiting = item.config.stash.get(WAITING, {})
    for name in exercises_of(item.nodeid):
        if waiting.get(name):
            pytest.fail(do_first_message(name, waiting[name]), pytrace=False)
