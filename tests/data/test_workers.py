"""DataLoader with worker processes: ordering, seeding, sharding, errors, death, cleanup."""
import gc
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset, get_worker_info

# ---------------------------------------------------------------- child processes, seen from /proc
def child_pids() -> set:
    """Live or unreaped children of this process, read from /proc (no psutil)."""
    me = str(os.getpid())
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
        if fields[1] == me and not _is_multiprocessing_helper(entry):  # fields[1]: the parent pid
            found.add(int(entry))
    return found


def _is_multiprocessing_helper(pid: str) -> bool:
    """multiprocessing's resource tracker (started once by the 'spawn' context) is no worker."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"resource_tracker" in f.read()
    except OSError:
        return False


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def no_leftover_workers():
    """Fails the test if it leaves worker processes behind; tests call it to check mid-way."""
    before = child_pids()

    def check():
        assert multiprocessing.active_children() == []
        assert child_pids() - before == set()

    yield check
    check()


pytestmark = [pytest.mark.slow,  # worker processes: up to seconds per test
              pytest.mark.timeout(60), pytest.mark.usefixtures("no_leftover_workers")]


# ---------------------------------------------------------------- datasets (module level: spawn pickles them)
class Records(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return {"x": ember.full((3,), float(i)), "index": i, "name": f"r{i}"}


class Pids(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return i, os.getpid()


INIT_STATE = None


def record_init(worker_id):
    """worker_init_fn: the first draws of each RNG after the worker was seeded."""
    global INIT_STATE
    INIT_STATE = (worker_id, random.random(), float(np.random.random()), ember.rand(1).item())


class Probe(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        info = get_worker_info()
        return {"index": i, "id": info.id, "num_workers": info.num_workers, "seed": info.seed,
                "ember_seed": ember.initial_seed(), "own_copy": type(info.dataset) is Probe,
                "init": INIT_STATE}


class RandomDraws(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        return ember.rand(2)


class Range(IterableDataset):
    def __init__(self, n, shard):
        self.n, self.shard = n, shard

    def __iter__(self):
        info = get_worker_info()
        if not self.shard or info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


class FailsAt(Dataset):
    def __init__(self, bad):
        self.bad = bad

    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == self.bad:
            raise ValueError(f"sample {i} is broken")
        return i


class MissingKey(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return {}["label"]


class Unpicklable(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return lambda: i


class KillsItself(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        if i == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Sleepy(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        time.sleep(30)
        return i


class Counted(Dataset):
    def __init__(self, counter):
        self.counter = counter

    def __len__(self):
        return 20

    def __getitem__(self, i):
        with self.counter.get_lock():
            self.counter.value += 1
        return i


def failing_init(worker_id):
    raise RuntimeError(f"init of worker {worker_id} failed")


def flat(batches):
    return [i for b in batches for i in b.tolist()]


# ---------------------------------------------------------------- results
def test_workers_give_the_same_batches_as_the_main_process():
    def run(num_workers):
        loader = DataLoader(Records(23), batch_size=4, shuffle=True, num_workers=num_workers,
                            generator=ember.Generator().manual_seed(9))
        return [(b["x"].numpy().tolist(), b["index"].tolist(), b["name"]) for b in loader]

    single, multi = run(0), run(2)
    assert multi == single
    order = [i for _, idx, _ in single for i in idx]
    assert sorted(order) == list(range(23))
    # the reference, in plain Python: chunks of 4 of the sampler's order
    expected = [order[s:s + 4] for s in range(0, 23, 4)]
    assert [idx for _, idx, _ in multi] == expected
    assert [x for x, _, _ in multi] == [[[float(i)] * 3 for i in chunk] for chunk in expected]
    assert [n for _, _, n in multi] == [[f"r{i}" for i in chunk] for chunk in expected]


def test_len_drop_last_and_unbatched_with_workers():
    loader = DataLoader(TensorDataset(ember.arange(10)), batch_size=3, drop_last=True, num_workers=2)
    assert len(loader) == 3
    assert [b[0].tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    unbatched = DataLoader(TensorDataset(ember.arange(5)), batch_size=None, num_workers=2)
    assert [x[0].item() for x in unbatched] == [0, 1, 2, 3, 4]


def test_worker_info_seeds_and_init_fn():
    assert get_worker_info() is None  # main process
    ember.manual_seed(123)
    samples = list(DataLoader(Probe(), batch_size=None, num_workers=2, worker_init_fn=record_init))
    assert [s["index"] for s in samples] == [0, 1, 2, 3]
    assert [s["id"] for s in samples] == [0, 1, 0, 1]  # requests go round-robin
    assert all(s["num_workers"] == 2 and s["own_copy"] for s in samples)
    seed0, seed1 = samples[0]["seed"], samples[1]["seed"]
    assert seed1 == seed0 + 1  # base_seed + worker_id
    for s in samples:
        worker_seed = s["seed"]
        assert s["ember_seed"] == worker_seed
        init_id, py_draw, np_draw, ember_draw = s["init"]
        assert init_id == s["id"]
        assert py_draw == random.Random(worker_seed).random()
        assert ember_draw == ember.rand(1, generator=ember.Generator().manual_seed(worker_seed)).item()
    assert samples[0]["init"][2] != samples[1]["init"][2]  # numpy seeded differently per worker
    # the same manual_seed gives the same worker seeds and draws
    ember.manual_seed(123)
    again = list(DataLoader(Probe(), batch_size=None, num_workers=2, worker_init_fn=record_init))
    assert [s["init"] for s in again] == [s["init"] for s in samples]


def test_worker_randomness_reproducible_from_manual_seed_or_generator():
    def draws(seed=None, generator=None):
        if seed is not None:
            ember.manual_seed(seed)
        loader = DataLoader(RandomDraws(), batch_size=2, num_workers=2, generator=generator)
        return [b.numpy().tolist() for b in loader]

    first = draws(seed=3)
    assert draws(seed=3) == first and draws(seed=4) != first
    with_gen = draws(seed=1, generator=ember.Generator().manual_seed(8))
    assert draws(seed=2, generator=ember.Generator().manual_seed(8)) == with_gen


def test_iterable_dataset_every_worker_iterates_everything_without_sharding():
    items = flat(DataLoader(Range(6, shard=False), batch_size=2, num_workers=2))
    assert sorted(items) == sorted(list(range(6)) * 2)


def test_iterable_dataset_sharded_by_worker_info_matches_reference():
    got = [b.tolist() for b in DataLoader(Range(11, shard=True), batch_size=2, num_workers=2)]
    # reference: worker w yields range(w, 11, 2) in batches of 2; batches alternate between workers
    per_worker = [[list(range(w, 11, 2))[s:s + 2] for s in range(0, len(range(w, 11, 2)), 2)] for w in range(2)]
    expected = []
    for k in range(max(map(len, per_worker))):
        expected += [batches[k] for batches in per_worker if k < len(batches)]
    assert got == expected
    assert sorted(i for b in got for i in b) == list(range(11))


def test_iterable_sharded_drop_last_and_more_workers_than_data():
    got = [b.tolist() for b in DataLoader(Range(7, shard=True), batch_size=2, num_workers=2, drop_last=True)]
    assert got == [[0, 2], [1, 3], [4, 6]]  # worker 1's leftover [5] is dropped
    assert [b.tolist() for b in DataLoader(Range(1, shard=True), batch_size=2, num_workers=2)] == [[0]]


# ---------------------------------------------------------------- errors
def test_worker_exception_names_the_worker_and_keeps_the_traceback(no_leftover_workers):
    loader = DataLoader(FailsAt(bad=3), batch_size=1, num_workers=2)  # request 3 goes to worker 1
    seen = []
    with pytest.raises(ValueError) as info:
        for b in loader:
            seen.append(b.item())
    message = str(info.value)
    assert "Caught ValueError in DataLoader worker process 1" in message
    assert "Traceback (most recent call last)" in message
    assert "sample 3 is broken" in message and "__getitem__" in message
    assert seen == [0, 1, 2]
    no_leftover_workers()


def test_worker_key_error_message_stays_readable(no_leftover_workers):
    with pytest.raises(KeyError) as info:
        list(DataLoader(MissingKey(), num_workers=2))
    assert "Caught KeyError in DataLoader worker process 0.\nOriginal Traceback" in str(info.value)
    no_leftover_workers()


def test_worker_init_fn_error_surfaces(no_leftover_workers):
    with pytest.raises(RuntimeError, match=r"(?s)Caught RuntimeError in DataLoader worker process \d.*init of"):
        list(DataLoader(Records(4), num_workers=2, worker_init_fn=failing_init))
    no_leftover_workers()


def test_unpicklable_sample_is_an_error_not_a_hang(no_leftover_workers):
    with pytest.raises(Exception, match="DataLoader worker process 0") as info:
        list(DataLoader(Unpicklable(), batch_size=None, num_workers=2))
    assert "lambda" in str(info.value)
    no_leftover_workers()


def test_worker_killed_by_a_signal_raises_instead_of_hanging(no_leftover_workers):
    loader = DataLoader(KillsItself(), batch_size=1, num_workers=2)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid \d+\) exited unexpectedly.*SIGKILL"):
        list(loader)
    assert time.monotonic() - start < 10
    no_leftover_workers()


def test_timeout_raises_naming_it(no_leftover_workers):
    loader = DataLoader(Sleepy(), num_workers=2, timeout=0.3)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match=r"timed out after 0\.3 seconds"):
        next(iter(loader))
    assert time.monotonic() - start < 10
    no_leftover_workers()


# ---------------------------------------------------------------- cleanup
def test_early_break_leaves_no_workers(no_leftover_workers):
    for batch in DataLoader(Records(40), batch_size=2, num_workers=2):
        assert child_pids()  # the workers exist while iterating
        break
    no_leftover_workers()


def test_garbage_collected_iterator_stops_its_workers(no_leftover_workers):
    it = iter(DataLoader(Records(40), batch_size=2, num_workers=2))
    next(it)
    pids = {p.pid for p in multiprocessing.active_children()}
    assert len(pids) == 2
    del it
    gc.collect()
    no_leftover_workers()


def test_workers_exit_when_the_main_process_dies(tmp_path):
    script = textwrap.dedent("""
        import os, time
        import ember
        from ember.utils.data import DataLoader, Dataset

        class Slow(Dataset):
            def __len__(self):
                return 1000

            def __getitem__(self, i):
                time.sleep(0.01)
                return os.getpid()

        it = iter(DataLoader(Slow(), batch_size=None, num_workers=2))
        pids = {next(it) for _ in range(6)}
        print(" ".join(map(str, sorted(pids))), flush=True)
        os._exit(0)  # no cleanup: the workers must notice on their own
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 2, out.stderr

    def gone(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True

    assert wait_until(lambda: all(gone(p) for p in pids), timeout=10)


# ---------------------------------------------------------------- options
def test_persistent_workers_survive_epochs_and_unfinished_epochs(no_leftover_workers):
    loader = DataLoader(Pids(), batch_size=2, num_workers=2, persistent_workers=True)
    epoch1 = list(loader)
    pids = {pid for b in epoch1 for pid in b[1].tolist()}
    assert len(pids) == 2
    for _ in loader:
        break  # leaves requests in flight
    epoch3 = list(loader)
    assert [b[0].tolist() for b in epoch3] == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert {pid for b in epoch3 for pid in b[1].tolist()} == pids
    assert {p.pid for p in multiprocessing.active_children()} == pids
    del loader
    gc.collect()
    no_leftover_workers()


def test_persistent_workers_with_iterable_dataset():
    loader = DataLoader(Range(5, shard=True), batch_size=2, num_workers=2, persistent_workers=True)
    first = [b.tolist() for b in loader]
    assert first == [[0, 2], [1, 3], [4]]
    assert [b.tolist() for b in loader] == first
    del loader
    gc.collect()


def test_persistent_workers_restart_after_an_error(no_leftover_workers):
    loader = DataLoader(FailsAt(bad=1), batch_size=1, num_workers=2, persistent_workers=True)
    with pytest.raises(ValueError):
        list(loader)
    no_leftover_workers()
    with pytest.raises(ValueError):  # a new set of workers, the same error
        list(loader)
    del loader


def test_prefetch_factor_bounds_the_requests_in_flight():
    counter = multiprocessing.get_context("fork").Value("i", 0)
    it = iter(DataLoader(Counted(counter), batch_size=None, num_workers=2, prefetch_factor=1))
    assert next(it) == 0
    time.sleep(0.3)  # let the workers finish whatever they were sent
    assert counter.value <= 3  # 2 workers x prefetch_factor 1, plus one sent after the first delivery
    assert list(it) == list(range(1, 20))


def test_in_order_false_delivers_every_batch():
    loader = DataLoader(Records(9), batch_size=2, num_workers=2, in_order=False)
    assert sorted(i for b in loader for i in b["index"].tolist()) == list(range(9))


def test_pin_memory_with_workers_is_accepted():
    assert flat(b[0] for b in DataLoader(TensorDataset(ember.arange(4)), batch_size=2, num_workers=2,
                                         pin_memory=True)) == [0, 1, 2, 3]


def test_spawn_context():
    loader = DataLoader(TensorDataset(ember.arange(6)), batch_size=4, num_workers=2, multiprocessing_context="spawn")
    assert [b[0].tolist() for b in loader] == [[0, 1, 2, 3], [4, 5]]
    assert loader.multiprocessing_context.get_start_method() == "spawn"


def test_worker_info_is_read_only():
    from ember.utils.data import WorkerInfo
    info = WorkerInfo(id=1, num_workers=2, seed=7, dataset=None)
    with pytest.raises(RuntimeError, match="'seed'"):
        info.seed = 8
    assert "id=1" in repr(info)
