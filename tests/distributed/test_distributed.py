"""ember.distributed with real processes: ranks started by the launcher (emberrun) under MPI."""
import os
import re
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

import ember as torch
import ember.nn.functional as F

from ddp_common import LR, MOMENTUM, STEPS, data, make_model

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not torch.distributed.is_available(), reason="needs ember[distributed]")]
HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = os.path.join(HERE, "workers")


def launch(nproc, script, *args, timeout=120):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", EMBER_MPS_DEVICE=os.environ.get("EMBER_MPS_DEVICE", "cpu"))
    cmd = [sys.executable, "-m", "ember.distributed.run", "--nproc-per-node", str(nproc), "--standalone",
           os.path.join(WORKERS, script), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _devices():
    from conftest import DEVICES
    return ",".join(d for d in ("cpu", "opencl") if d in DEVICES)


@pytest.mark.parametrize("nproc", [2, 3])
def test_collectives(nproc):
    p = launch(nproc, "collectives.py", _devices())
    assert p.returncode == 0, p.stdout + p.stderr
    # (the ranks' output lines may interleave)
    assert sorted(re.findall(r"OK rank \d+ of \d+", p.stdout)) == [f"OK rank {r} of {nproc}" for r in range(nproc)]


def test_ddp_and_fully_shard_equal_full_batch_training_and_checkpoint_loads(tmp_path):
    p = launch(2, "ddp.py", str(tmp_path))
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(re.findall(r"OK hooks rank \d", p.stdout)) == ["OK hooks rank 0", "OK hooks rank 1"]
    # the same training in one process on the whole batch, from rank 0's initial values
    X, Y = data()
    ref = make_model(seed=0)
    opt = torch.optim.SGD(ref.parameters(), lr=LR, momentum=MOMENTUM)
    for _ in range(STEPS):
        opt.zero_grad()
        F.mse_loss(ref(X), Y).backward()
        opt.step()
    want = {k: v.numpy() for k, v in ref.state_dict().items()}
    for r in ("rank0", "rank1", "fsdp"):   # both DDP replicas, and fully_shard's gathered model
        got = np.load(tmp_path / f"{r}.npz")
        assert sorted(got.files) == sorted(want)
        for k in want:
            np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-5, err_msg=f"rank {r} {k}")
    # rank 0's checkpoint loads into a plain model in this single process
    fresh = make_model(seed=5)
    fresh.load_state_dict(torch.load(tmp_path / "checkpoint.pt"))
    np.testing.assert_allclose(fresh(X).detach().numpy(), ref(X).detach().numpy(), rtol=1e-5, atol=1e-5)
    # the 2-rank sharded checkpoint (ember.distributed.checkpoint.save) loads in this one process
    assert sorted(re.findall(r"OK dcp rank \d", p.stdout)) == ["OK dcp rank 0", "OK dcp rank 1"]
    import ember.distributed.checkpoint as dcp
    whole = make_model(seed=6)
    state = {"model": whole.state_dict()}
    dcp.load(state, checkpoint_id=str(tmp_path / "dcp"))
    whole.load_state_dict(state["model"])
    np.testing.assert_allclose(whole(X).detach().numpy(), ref(X).detach().numpy(), rtol=1e-5, atol=1e-5)


def _processes_with(token):
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if token.encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


def test_failing_rank_ends_the_job():
    token = uuid.uuid4().hex
    start = time.monotonic()
    p = launch(3, "fail.py", token)
    elapsed = time.monotonic() - start
    assert p.returncode != 0
    assert "rank 1 failed: ValueError: rank one gives up" in p.stderr, p.stderr
    assert elapsed < 60
    assert _processes_with(token) == []


def run_plain(script, timeout=120):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, os.path.join(WORKERS, script)], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_single_process_world_and_errors():
    p = run_plain("single.py")
    assert p.returncode == 0 and "OK single" in p.stdout, p.stdout + p.stderr


def test_multiprocessing_spawn():
    p = run_plain("spawn_main.py")
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(re.findall(r"spawned \d of 2 ok", p.stdout)) == ["spawned 0 of 2 ok", "spawned 1 of 2 ok"]
    assert "spawn parent ok" in p.stdout
