"""ember.futures.Future: completion, chaining, exceptions, collect_all."""
import pytest

from ember.futures import Future, collect_all, from_waiter, wait_all


def test_set_result_then_and_callbacks():
    f = Future()
    seen = []
    f.add_done_callback(lambda fut: seen.append(fut.value()))
    chained = f.then(lambda fut: fut.value() * 10)
    assert not f.done() and not chained.done()
    f.set_result(4)
    assert f.done() and chained.wait() == 40 and seen == [4]
    with pytest.raises(RuntimeError, match="only be marked completed once"):
        f.set_result(5)


def test_exceptions_propagate_through_then():
    f = Future()
    chained = f.then(lambda fut: fut.value() + 1)
    f.set_exception(ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        chained.wait()
    with pytest.raises(TypeError):
        Future().set_exception("not an exception")


def test_waiter_futures_complete_on_wait():
    calls = []
    f = from_waiter(lambda: calls.append(1) or 7)
    g = f.then(lambda fut: fut.value() + 1)
    assert calls == [] and g.wait() == 8 and calls == [1] and f.value() == 7
    with pytest.raises(RuntimeError, match="before the future completed"):
        Future().value()
    a, b = Future(), Future()
    a.set_result(1), b.set_result(2)
    assert [x.value() for x in collect_all([a, b]).wait()] == [1, 2]
    assert wait_all([a, b]) == [1, 2]
