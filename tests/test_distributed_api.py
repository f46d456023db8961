"""torch.distributed beyond the basic collectives: stores, option records, debug levels, backend
configuration, rendezvous, remote devices and RPC (in this process), and the multi-rank surface
(P2P batches, object send/receive, coalesced collectives, subgroups, device meshes, RPC and
distributed autograd) on two ranks."""
import datetime
import re
import threading

import numpy as np
import pytest

import ember as torch
import ember.distributed as dist
from _dist_launch import launch


def test_hash_and_prefix_store_semantics():
    s = dist.HashStore()
    s.set_timeout(datetime.timedelta(seconds=0.2))
    assert isinstance(s, dist.Store)
    s.set("a", "1")
    assert s.get("a") == b"1"
    assert s.add("c", 3) == 3 and s.add("c", 2) == 5 and s.get("c") == b"5"
    assert s.compare_set("a", "1", "2") == b"2" and s.get("a") == b"2"
    assert s.compare_set("a", "x", "3") == b"2"          # mismatch: the current value, unchanged
    assert s.compare_set("new", "", "v") == b"v"          # unset and expected empty: created
    assert s.compare_set("new2", "q", "v") == b"q" and not s.check(["new2"])
    assert s.num_keys() == 3
    assert s.delete_key("a") is True and s.delete_key("a") is False
    assert s.check(["c"]) and not s.check(["c", "zz"])
    with pytest.raises(dist.DistStoreError, match="timeout"):
        s.get("zz")
    with pytest.raises(dist.DistStoreError):
        s.wait(["zz"], datetime.timedelta(seconds=0.05))
    s.append("ap", "x")
    s.append("ap", b"y")
    assert s.get("ap") == b"xy" and s.multi_get(["ap", "c"]) == [b"xy", b"5"]
    s.queue_push("q", "first")
    s.queue_push("q", "second")
    assert s.queue_len("q") == 2 and s.queue_pop("q") == b"first"
    s.queue_pop("q")
    with pytest.raises(dist.QueueEmptyError, match="empty"):
        s.queue_pop("q", block=False)
    assert issubclass(dist.QueueEmptyError, dist.DistStoreError) and issubclass(dist.DistStoreError, dist.DistError)
    assert issubclass(dist.DistNetworkError, dist.DistError) and issubclass(dist.DistBackendError, dist.DistError)
    p = dist.PrefixStore("pre", s)
    p.set("k", b"v")
    assert s.get("pre/k") == b"v" and p.get("k") == b"v" and p.underlying_store is s
    assert "k" in p.list_keys() and "pre/k" in s.list_keys()


def test_store_get_waits_for_another_thread():
    s = dist.HashStore()
    threading.Timer(0.05, lambda: s.set("late", "here")).start()
    assert s.get("late") == b"here"


def test_user_store_subclass_and_base_class():
    class DictStore(dist.Store):
        def __init__(self):
            super().__init__()
            self.d = {}

        def set(self, key, value):
            self.d[key] = value.encode() if isinstance(value, str) else value

        def get(self, key):
            return self.d[key]

        def check(self, keys):
            return all(k in self.d for k in keys)
    s = DictStore()
    p = dist.PrefixStore("x", s)   # the generic methods work over the user's store
    p.set("a", "1")
    p.append("a", "2")
    assert s.d == {"x/a": b"12"}
    p.wait(["a"])
    with pytest.raises(NotImplementedError, match="add"):
        dist.Store().add("k", 1)


def test_tcp_and_file_stores_between_clients(tmp_path):
    server = dist.TCPStore("127.0.0.1", 0, 2, True, datetime.timedelta(seconds=10), wait_for_workers=False)
    client = dist.TCPStore("127.0.0.1", server.port, 2, False, datetime.timedelta(seconds=10))
    threading.Timer(0.05, lambda: client.set("from_client", "hi")).start()
    assert server.get("from_client") == b"hi"
    assert client.add("n", 2) == 2 and server.add("n", 3) == 5
    client.queue_push("q", "job")
    assert server.queue_pop("q") == b"job"
    server.set_timeout(datetime.timedelta(seconds=0.1))
    with pytest.raises(dist.DistStoreError):
        server.get("missing")
    path = str(tmp_path / "store")
    a, b = dist.FileStore(path, 2), dist.FileStore(path, 2)
    a.set("k", "v")
    assert b.get("k") == b"v" and b.add("c", 4) == 4 and a.add("c", 1) == 5 and a.num_keys() == 2
    assert b.compare_set("k", "v", "w") == b"w" and a.get("k") == b"w"


def test_option_records_and_debug_level(monkeypatch):
    o = dist.AllreduceOptions()
    assert o.reduceOp == dist.ReduceOp.SUM and o.timeout.total_seconds() < 0 and o.asyncOp
    r = dist.ReduceOptions()
    assert (r.rootRank, r.rootTensor) == (0, 0)
    assert dist.BarrierOptions().device_ids == [] and dist.ScatterOptions().rootRank == 0
    for cls in (dist.AllToAllOptions, dist.AllreduceCoalescedOptions, dist.BroadcastOptions, dist.GatherOptions,
                dist.ReduceScatterOptions):
        assert cls().timeout == datetime.timedelta(milliseconds=-1)
    assert [m.name for m in dist.DebugLevel] == ["OFF", "INFO", "DETAIL"] and int(dist.DebugLevel.DETAIL) == 2
    previous = dist.get_debug_level()
    try:
        dist.set_debug_level(dist.DebugLevel.INFO)
        assert dist.get_debug_level() == dist.DebugLevel.INFO and dist.log.level == 20
        monkeypatch.setenv("TORCH_DISTRIBUTED_DEBUG", "detail")
        dist.set_debug_level_from_env()
        assert dist.get_debug_level() == dist.DebugLevel.DETAIL
        monkeypatch.setenv("TORCH_DISTRIBUTED_DEBUG", "bogus")
        with pytest.raises(ValueError, match="OFF, INFO, or DETAIL"):
            dist.set_debug_level_from_env()
    finally:
        dist.set_debug_level(previous)


def test_backend_queries_and_names(monkeypatch):
    assert dist.get_default_backend_for_device("cpu") == "gloo"
    assert dist.get_default_backend_for_device(torch.device("cuda")) == "nccl"
    with pytest.raises(ValueError, match="meta"):
        dist.get_default_backend_for_device("meta")
    assert dist.is_backend_available("gloo") and dist.is_backend_available("MPI")
    assert not dist.is_backend_available("nope") and not dist.is_ucc_available() and not dist.is_xccl_available()
    assert str(dist.BackendConfig("gloo")) == "cpu:gloo,cuda:gloo"
    assert dist.BackendConfig("cpu:gloo,cuda:nccl").get_device_backend_map() == {"cpu": "gloo", "cuda": "nccl"}
    assert dist.supports_complex(dist.ReduceOp.SUM) and not dist.supports_complex(dist.ReduceOp.MAX)
    with pytest.warns(FutureWarning, match="reduce_op"):
        assert dist.reduce_op.SUM is dist.ReduceOp.SUM
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    assert dist.get_node_local_rank(fallback_rank=3) == 3
    with pytest.raises(RuntimeError, match="LOCAL_RANK"):
        dist.get_node_local_rank()
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert dist.get_node_local_rank() == 1
    assert dist.default_pg_timeout == datetime.timedelta(minutes=30) == dist.constants.default_pg_timeout
    assert dist.GroupName is str and dist.RankType is int
    assert dist.distributed_c10d.all_reduce is dist.all_reduce and dist.device_mesh.DeviceMesh is dist.DeviceMesh
    with pytest.raises(ValueError, match="Invalid ``op``"):
        dist.P2POp(dist.all_reduce, torch.ones(1), 0)
    with pytest.raises(ValueError, match="P2POp"):
        dist.batch_isend_irecv([1])
    rd = dist.remote_device._remote_device("rank:1/cpu")
    assert (rd.rank(), rd.worker_name(), str(rd.device())) == (1, None, "cpu") and str(rd) == "rank:1/cpu"
    assert dist.remote_device._remote_device("trainer/cpu").worker_name() == "trainer"
    with pytest.raises(ValueError, match="parse"):
        dist.remote_device._remote_device("a/b/c")


def test_rendezvous_handlers(tmp_path):
    with pytest.raises(RuntimeError, match="already registered"):
        dist.register_rendezvous_handler("env", lambda url, **kw: iter(()))
    with pytest.raises(RuntimeError, match="No rendezvous handler for foo://"):
        dist.rendezvous("foo://x")
    store, rank, world = next(dist.rendezvous(f"file://{tmp_path}/rdzv?rank=0&world_size=1"))
    assert isinstance(store, dist.FileStore) and (rank, world) == (0, 1)
    seen = []

    def handler(url, **kwargs):
        seen.append(url)
        yield dist.HashStore(), kwargs.get("rank", 0), kwargs.get("world_size", 1)
    dist.register_rendezvous_handler("embertest", handler)
    s, r, w = next(dist.rendezvous("embertest://here", rank=0, world_size=1))
    assert seen == ["embertest://here"] and isinstance(s, dist.HashStore) and (r, w) == (0, 1)


def test_c10d_logger_and_utils():
    from ember.distributed import c10d_logger, utils
    calls = []

    @c10d_logger._exception_logger
    def fails(x):
        calls.append(x)
        raise KeyError("boom")
    with pytest.raises(KeyError):
        fails(1)
    assert calls == [1]
    args, keys = utils._pack_kwargs(1, 2, a=3)
    assert (args, keys) == ((1, 2, 3), ("a",)) and utils._unpack_kwargs(args, keys) == ((1, 2), {"a": 3})
    moved = utils._apply_to_tensors(lambda t: t * 2, {"x": [torch.ones(2)], "y": 3})
    np.testing.assert_array_equal(moved["x"][0].numpy(), [2, 2])
    assert moved["y"] == 3
    sd = {"module.a": 1, "b": 2}
    utils._replace_by_prefix(sd, "module.", "")
    assert sd == {"a": 1, "b": 2}
    assert dist.config.use_torchcomms is False


@pytest.mark.slow
@pytest.mark.skipif(not dist.is_available(), reason="needs ember[distributed]")
def test_two_ranks_stores_options_p2p_subgroups_meshes_rpc_and_dist_autograd(tmp_path):
    p = launch(2, "dist_api.py", tmp_path / "store")
    assert p.returncode == 0, p.stdout + p.stderr
    assert sorted(re.findall(r"OK dist_api rank \d", p.stdout)) == ["OK dist_api rank 0", "OK dist_api rank 1"]



def test_rpc_to_itself_and_remote_references():
    import socket

    import ember.distributed.rpc as rpc
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rpc.init_rpc("solo", rank=0, world_size=1, rpc_backend_options=rpc.TensorPipeRpcBackendOptions(
        init_method=f"tcp://127.0.0.1:{port}", rpc_timeout=20))
    try:
        assert rpc.get_worker_info() == rpc.WorkerInfo("solo", 0)
        np.testing.assert_array_equal(rpc.rpc_sync("solo", torch.add, args=(torch.ones(2), 1)).numpy(), [2, 2])
        assert rpc.rpc_async(0, max, args=(3, 7)).wait() == 7
        ref = rpc.remote("solo", dict, kwargs={"a": 1})
        assert ref.is_owner() and ref.to_here() == {"a": 1} and ref.rpc_sync().get("a") == 1
        with pytest.raises(ZeroDivisionError):
            rpc.rpc_sync("solo", divmod, args=(1, 0))
        with pytest.raises(ValueError, match="Unknown destination"):
            rpc.rpc_sync("nobody", max, args=(1, 2))
        with pytest.raises(RuntimeError, match="already initialized"):
            rpc.init_rpc("again", rank=0, world_size=1)
    finally:
        rpc.shutdown()
    with pytest.raises(RuntimeError, match="not been initialized"):
        rpc.get_worker_info()
