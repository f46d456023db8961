"""ember.profiler: events at the dispatcher, record_function ranges, tables, traces, schedules."""
import json

import pytest

import ember
from ember import nn
from ember.profiler import ProfilerAction, ProfilerActivity, profile, record_function, schedule


def test_ops_and_ranges_are_recorded(any_device):
    model = nn.Sequential(nn.Linear(16, 8), nn.ReLU()).to(any_device)
    x = ember.randn(4, 16, device=any_device)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True, profile_memory=True) as prof:
        with record_function("my_block"):
            model(x).sum().backward()
    names = {e.key: e for e in prof.key_averages()}
    assert {"my_block", "ember::linear", "op::matmul", "op::relu"} <= set(names)
    assert names["op::relu"].count == 1 and names["op::relu"].cpu_memory_usage == 4 * 8 * 4
    block = names["my_block"]
    assert block.cpu_time_total >= names["ember::linear"].cpu_time_total > 0
    assert block.self_cpu_time_total <= block.cpu_time_total
    by_shape = prof.key_averages(group_by_input_shape=True)
    assert any(e.key == "op::relu" and e.input_shapes == [[4, 8]] for e in by_shape)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=3)
    assert "Self CPU %" in table and len([line for line in table.splitlines() if "::" in line]) <= 3
    with pytest.raises(AttributeError):
        prof.key_averages().table(sort_by="no_such_column")


def test_nothing_recorded_outside_and_chrome_trace(tmp_path):
    x = ember.randn(3)
    with profile() as prof:
        (x * 2).exp()
    (x + 1).sin()   # after the profile: not recorded
    names = [e.name for e in prof.events()]
    assert "op::mul" in names and "op::exp" in names and "op::sin" not in names
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    assert {e["name"] for e in trace["traceEvents"]} >= {"op::mul", "op::exp"}
    assert all(e["ph"] == "X" and e["dur"] >= 0 for e in trace["traceEvents"])
    with record_function("idle"):   # no profiler: a no-op
        pass


def test_schedule_records_the_active_steps():
    s = schedule(wait=1, warmup=1, active=2, repeat=1, skip_first=1)
    assert [s(i) for i in range(7)] == [ProfilerAction.NONE, ProfilerAction.NONE, ProfilerAction.WARMUP,
                                        ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE,
                                        ProfilerAction.NONE, ProfilerAction.NONE]
    ready = []
    x = ember.ones(2)
    with profile(schedule=schedule(wait=1, warmup=0, active=2), on_trace_ready=lambda p: ready.append(
            sum(e.count for e in p.key_averages() if e.key == "op::add"))) as prof:
        for _ in range(6):
            x + 1
            prof.step()
    assert ready == [2, 2]      # two spans of two recorded steps each

