"""ember.profiler: per-op times and memory, collected at the dispatcher (PyTorch's ``torch.profiler``).

While a ``profile`` is recording, the Profile mode key (``ember.dispatch.keys``) sits closest
to the kernels: every dispatched op of the op table (``op::matmul``, ``op::add``...) and every
public dispatch point (``ember::linear``, ``ember::matmul``) becomes an event with its wall-clock interval, its input
shapes (``record_shapes``) and the bytes of the tensors it returned (``profile_memory``);
``record_function("name")`` adds user ranges. Device work is timed as the host sees it: a
backend that queues work asynchronously is synchronized at the end of each op only when
``ProfilerActivity.CUDA`` (or the device's activity) is requested.

``prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=10)`` aggregates by
name; ``prof.export_chrome_trace(path)`` writes the events for chrome://tracing / Perfetto;
``schedule(wait=, warmup=, active=, repeat=, skip_first=)`` with ``prof.step()`` limits
recording to chosen steps and calls ``on_trace_ready(prof)`` after each active span.
"""
from __future__ import annotations

import enum
import json
import os
import tempfile
import threading
import time

from ember.core.tensor import Tensor
from ember.dispatch.keys import ACTIVE, PROFILE, pop_mode, push_mode
from ember.dispatch.public_op import PublicOp

from ember.profiler._execution_trace import DeviceType, ExecutionTraceObserver, kineto_available

__all__ = ["DeviceType", "ExecutionTraceObserver", "kineto_available", "ProfilerActivity", "ProfilerAction", "profile", "record_function", "schedule",
           "tensorboard_trace_handler", "supported_activities", "EventList", "FunctionEventAvg"]


class ProfilerActivity(enum.Enum):
    """What to profile: host-side op execution (CPU) or device work (CUDA and other accelerators)."""
    CPU = 0
    CUDA = 1
    XPU = 2
    MTIA = 3
    PrivateUse1 = 4
    HPU = 5


def supported_activities() -> set:
    """The activities ``profile`` can record here."""
    return {ProfilerActivity.CPU, ProfilerActivity.CUDA}


class ProfilerAction(enum.Enum):
    """What a ``schedule`` says to do at a step."""
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3


def schedule(*, wait: int, warmup: int, active: int, repeat: int = 0, skip_first: int = 0,
             skip_first_wait: int = 0):
    """A step -> ``ProfilerAction`` function: skip ``skip_first`` steps, then cycles of ``wait``
    idle, ``warmup`` warm-up and ``active`` recorded steps (``repeat`` cycles; 0: forever)."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError("Invalid profiler schedule arguments")

    def action(step: int) -> ProfilerAction:
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait:
            step += wait          # the first cycle starts at its warm-up
        cycle = wait + warmup + active
        if repeat and step // cycle >= repeat:
            return ProfilerAction.NONE
        pos = step % cycle
        if pos < wait:
            return ProfilerAction.NONE
        if pos < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD_AND_SAVE if pos == cycle - 1 else ProfilerAction.RECORD
    return action


class FunctionEvent:
    """One recorded interval: an op, a public op or a ``record_function`` range."""
    __slots__ = ("name", "start_us", "end_us", "shapes", "cpu_memory", "children_us", "thread", "depth")

    def __init__(self, name, start_us, thread, depth, shapes=None):
        self.name, self.start_us, self.thread, self.depth = name, start_us, thread, depth
        self.end_us = start_us
        self.shapes = shapes
        self.cpu_memory = 0
        self.children_us = 0.0

    @property
    def cpu_time_total(self) -> float:
        return self.end_us - self.start_us

    @property
    def device_type(self) -> DeviceType:
        """Where the event was timed: ember times every event on the host (``DeviceType.CPU``)."""
        return DeviceType.CPU

    @property
    def self_cpu_time_total(self) -> float:
        return self.cpu_time_total - self.children_us


class FunctionEventAvg:
    """Events of one name (and input shapes, with ``group_by_input_shape``) added up."""

    def __init__(self, key, input_shapes=None):
        self.key = key
        self.input_shapes = input_shapes
        self.count = 0
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0

    def add(self, event: FunctionEvent):
        self.count += 1
        self.cpu_time_total += event.cpu_time_total
        self.self_cpu_time_total += event.self_cpu_time_total
        self.cpu_memory_usage += event.cpu_memory
        self.self_cpu_memory_usage += event.cpu_memory

    @property
    def cpu_time(self) -> float:
        """Mean total time per call, in microseconds."""
        return self.cpu_time_total / max(self.count, 1)

    # PyTorch's device-time columns: ember times device work as the host sees it
    @property
    def device_time_total(self) -> float:
        return self.cpu_time_total

    cuda_time_total = device_time_total

    @property
    def self_device_time_total(self) -> float:
        return self.self_cpu_time_total

    self_cuda_time_total = self_device_time_total


class EventList(list):
    """A list of ``FunctionEventAvg`` with PyTorch's ``table`` printout."""

    def table(self, sort_by=None, row_limit=100, max_name_column_width=55, header=None, top_level_events_only=False):
        """The events as a text table, sorted descending by ``sort_by`` (e.g. ``"cpu_time_total"``,
        ``"self_cpu_time_total"``, ``"count"``, ``"cpu_memory_usage"``), at most ``row_limit`` rows."""
        rows = list(self)
        if sort_by is not None:
            key = {"cpu_time": "cpu_time_total", "self_cpu_time": "self_cpu_time_total",
                   "cuda_time_total": "cpu_time_total", "self_cuda_time_total": "self_cpu_time_total",
                   "device_time_total": "cpu_time_total", "self_device_time_total": "self_cpu_time_total"
                   }.get(sort_by, sort_by)
            if not rows or not hasattr(rows[0], key):
                raise AttributeError(f"'FunctionEventAvg' object has no attribute '{sort_by}'")
            rows.sort(key=lambda e: getattr(e, key), reverse=True)
        if row_limit is not None and row_limit >= 0:
            rows = rows[:row_limit]
        total_self = sum(e.self_cpu_time_total for e in self) or 1.0
        show_shapes = any(e.input_shapes for e in rows)
        head = ["Name", "Self CPU %", "Self CPU", "CPU total", "CPU time avg", "CPU Mem", "# of Calls"]
        if show_shapes:
            head.append("Input Shapes")
        table = [head]
        for e in rows:
            row = [e.key[:max_name_column_width], f"{100 * e.self_cpu_time_total / total_self:.2f}%",
                   _fmt_us(e.self_cpu_time_total), _fmt_us(e.cpu_time_total), _fmt_us(e.cpu_time),
                   _fmt_bytes(e.cpu_memory_usage), str(e.count)]
            if show_shapes:
                row.append(str(e.input_shapes or []))
            table.append(row)
        widths = [max(len(r[i]) for r in table) for i in range(len(head))]
        line = "-" * (sum(widths) + 2 * (len(widths) - 1))
        out = [line, "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(head, widths))), line]
        for r in table[1:]:
            out.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        out += [line, f"Self CPU time total: {_fmt_us(sum(e.self_cpu_time_total for e in self))}"]
        return "\n".join(out)

    def __str__(self):
        return self.table()


def _fmt_us(us: float) -> str:
    if us >= 1e6:
        return f"{us / 1e6:.3f}s"
    if us >= 1e3:
        return f"{us / 1e3:.3f}ms"
    return f"{us:.3f}us"


def _fmt_bytes(n: int) -> str:
    for unit, size in (("Gb", 1 << 30), ("Mb", 1 << 20), ("Kb", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n} b"


def _now_us() -> float:
    return time.perf_counter_ns() / 1e3


class _Recorder:
    """The Profile mode key's handler and the open ranges of each thread."""

    def __init__(self, record_shapes, profile_memory, sync_devices):
        self.events = []
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.sync_devices = sync_devices
        self.stack = threading.local()

    def _open(self, name, shapes=None):
        stack = getattr(self.stack, "open", None)
        if stack is None:
            stack = self.stack.open = []
        event = FunctionEvent(name, _now_us(), threading.get_ident(), len(stack), shapes)
        stack.append(event)
        return event

    def _close(self, event, result=None):
        if result is not None and self.sync_devices:
            _synchronize(result)
        event.end_us = _now_us()
        stack = self.stack.open
        stack.pop()
        if stack:
            stack[-1].children_us += event.cpu_time_total
        if self.profile_memory and result is not None:
            event.cpu_memory = _nbytes(result)
        self.events.append(event)

    def handle(self, op, inputs, attrs, below):
        shapes = [list(t.shape) if isinstance(t, Tensor) else [] for t in inputs] if self.record_shapes else None
        # a public op (ember.linear) as PyTorch names its ops; a dispatched op of the table as op::
        event = self._open(f"ember::{op.name}" if isinstance(op, PublicOp) else f"op::{op.name}", shapes)
        try:
            result = below(op, inputs, attrs)
        except BaseException:
            self._close(event)
            raise
        # a public op's own tensors are counted by the ops inside it
        self._close(event, None if isinstance(op, PublicOp) and not self.sync_devices else result)
        if isinstance(op, PublicOp):
            event.cpu_memory = 0
        return result


def _tensors_in(result):
    if isinstance(result, Tensor):
        yield result
    elif isinstance(result, (tuple, list)):
        for r in result:
            yield from _tensors_in(r)


def _nbytes(result) -> int:
    return sum(t.numel() * t.element_size() for t in _tensors_in(result))


def _synchronize(result):
    from ember.core.call import backend_of
    for t in _tensors_in(result):
        if t.device.type != "cpu":
            backend_of(t.device.type).synchronize(t.device.index)


_CURRENT = []   # the recording profilers (innermost last)


class profile:
    """Record per-op events while active (a context manager; ``start``/``stop`` by hand also work).

    Args:
        activities: ``ProfilerActivity`` values (default: CPU, plus CUDA when a GPU plugin is available).
        schedule: a function from step to ``ProfilerAction`` (see ``schedule``); without one,
            everything between start and stop is recorded.
        on_trace_ready: called with the profiler at the end of each recorded span of the schedule.
        record_shapes: keep each op's input shapes.
        profile_memory: count the bytes of the tensors each op returns.
        execution_trace_observer: an ``ExecutionTraceObserver`` started and stopped with the recording.
        with_stack, with_flops, with_modules, experimental_config,
            acc_events, use_cuda: accepted for PyTorch's signature; stacks, FLOP counts and module
            hierarchies are not recorded.
    """

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None):
        activities = set(activities) if activities is not None else {ProfilerActivity.CPU}
        if use_cuda:
            activities.add(ProfilerActivity.CUDA)
        self.activities = activities
        self.schedule = schedule
        self.on_trace_ready = on_trace_ready
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.step_num = 0
        self.execution_trace_observer = execution_trace_observer
        self._recorder = None
        self._events = []
        self._running = False

    # ------------------------------------------------------------ recording
    def _start_recording(self):
        if self._recorder is None:
            self._recorder = _Recorder(self.record_shapes, self.profile_memory,
                                       bool(self.activities - {ProfilerActivity.CPU}))
            push_mode(PROFILE, self._recorder.handle)
            _CURRENT.append(self)
            if self.execution_trace_observer is not None:   # it chains onto the recorder's handler
                self.execution_trace_observer.start()

    def _stop_recording(self):
        if self._recorder is not None:
            if self.execution_trace_observer is not None:
                self.execution_trace_observer.stop()
            if ACTIVE.keys and PROFILE in ACTIVE.keys:
                pop_mode(PROFILE)
            if self in _CURRENT:
                _CURRENT.remove(self)
            self._events = self._recorder.events
            self._recorder = None

    def start(self):
        """Begin profiling (recording at once unless the schedule says otherwise)."""
        self._running = True
        if self.schedule is None or self.schedule(self.step_num) in (ProfilerAction.RECORD,
                                                                      ProfilerAction.RECORD_AND_SAVE):
            self._start_recording()

    def stop(self):
        """End profiling; the recorded events stay readable."""
        recording = self._recorder is not None
        self._stop_recording()
        self._running = False
        if recording and self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def step(self):
        """Mark the end of a training step: the schedule decides what the next step records."""
        if self.schedule is None:
            self.step_num += 1
            return
        before = self.schedule(self.step_num)
        self.step_num += 1
        after = self.schedule(self.step_num)
        if before == ProfilerAction.RECORD_AND_SAVE:   # the end of a recorded span
            self._stop_recording()
            if self.on_trace_ready is not None:
                self.on_trace_ready(self)
        if after in (ProfilerAction.RECORD, ProfilerAction.RECORD_AND_SAVE):
            self._start_recording()
        else:
            self._stop_recording()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # ------------------------------------------------------------ results
    def events(self) -> list:
        """Every recorded event, in completion order."""
        return list(self._events if self._recorder is None else self._recorder.events)

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0) -> EventList:
        """The events added up per name (and input shapes): an ``EventList`` with ``table()``."""
        groups = {}
        for e in self.events():
            key = (e.name, str(e.shapes)) if group_by_input_shape else e.name
            if key not in groups:
                groups[key] = FunctionEventAvg(e.name, e.shapes if group_by_input_shape else None)
            groups[key].add(e)
        return EventList(groups.values())

    def export_chrome_trace(self, path) -> None:
        """Write the events as a Chrome trace JSON file (written atomically)."""
        pid = os.getpid()
        trace = {"traceEvents": [
            {"name": e.name, "ph": "X", "ts": e.start_us, "dur": e.cpu_time_total, "pid": pid,
             "tid": e.thread, "cat": "cpu_op",
             "args": {**({"Input Dims": e.shapes} if e.shapes is not None else {}),
                      **({"Bytes": e.cpu_memory} if e.cpu_memory else {})}}
            for e in self.events()], "displayTimeUnit": "ms"}
        directory = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".trace-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(trace, f)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise


class record_function:
    """A named range in the profile (a context manager or a decorator); free when nothing records.

    Args:
        name: the label shown in ``key_averages()`` and the trace.
        args: extra text kept with the range (accepted, as in PyTorch).
    """

    def __init__(self, name: str, args=None):
        self.name = name
        self._event = None
        self._recorder = None

    def __enter__(self):
        if _CURRENT and _CURRENT[-1]._recorder is not None:
            self._recorder = _CURRENT[-1]._recorder
            self._event = self._recorder._open(self.name)
        return self

    def __exit__(self, *exc):
        if self._event is not None:
            self._recorder._close(self._event)
            self._event = self._recorder = None
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapped(*args, **kwargs):
            with record_function(self.name):
                return fn(*args, **kwargs)
        return wrapped


def tensorboard_trace_handler(dir_name: str, worker_name=None, use_gzip=False):
    """An ``on_trace_ready`` that writes each recorded span as a Chrome trace into ``dir_name``."""
    def handler(prof):
        os.makedirs(dir_name, exist_ok=True)
        name = worker_name or f"{os.uname().nodename}_{os.getpid()}"
        path = os.path.join(dir_name, f"{name}.{time.time_ns()}.pt.trace.json")
        prof.export_chrome_trace(path)
        if use_gzip:
            import gzip
            import shutil
            with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.unlink(path)
    return handler
