"""ember.compiler.set_enable_guard_collectives: ranks recompile together."""
import sys

import ember
from ember._dynamo import guard_collectives as gc

sys.path.insert(0, __import__("os").path.dirname(__file__))
from _dist_launch import launch  # noqa: E402


def test_returns_the_previous_setting():
    assert ember.compiler.set_enable_guard_collectives(True) is False
    assert ember.compiler.set_enable_guard_collectives(True) is True
    assert ember.compiler.set_enable_guard_collectives(False) is True
    assert ember.compiler.set_enable_guard_collectives(False) is False


def test_decision_one_miss_recompiles_everywhere():
    assert gc.combine([True, True, True]) is True
    assert gc.combine([True, False, True]) is False
    assert gc.combine([False]) is False


def test_a_miss_elsewhere_forces_a_capture_here(monkeypatch):
    verdicts = []

    def other_rank_missed(hit):
        verdicts.append(hit)
        return gc.combine([hit, False])
    f = ember.compile(lambda x: x + 1)
    x = ember.randn(3)
    before = gc.set_enable_guard_collectives(True)
    try:
        monkeypatch.setattr("ember._dynamo.eval_frame.synchronized_hit", other_rank_missed)
        f(x)
        assert verdicts == [] and f._captures == 1  # no compiled code yet: nothing to agree on
        out = f(x)
        assert verdicts == [True] and f._captures == 2  # this rank hit, the other missed
        ember.testing.assert_close(out, x + 1)
        gc.set_enable_guard_collectives(False)
        f(x)
        assert verdicts == [True] and f._captures == 2  # off: no collective, the cached graph runs
    finally:
        gc.set_enable_guard_collectives(before)


def test_not_initialized_is_local():
    assert gc.synchronized_hit(True) is True and gc.synchronized_hit(False) is False


def test_two_ranks():
    p = launch(2, "guard_collectives.py", timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "rank 0 ok" in p.stdout and "rank 1 ok" in p.stdout
