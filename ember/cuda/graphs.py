"""``ember.cuda.graphs`` (``torch.cuda.graphs``): CUDA graphs over CuPy's stream capture.

A ``CUDAGraph`` records the GPU work ember queues on a (non-default) stream between
``capture_begin`` and ``capture_end``; ``replay`` launches the recorded kernels again, on
the same memory. Memory taken during the capture comes from the graph's pool (a
``MemPool``; ``graph_pool_handle()`` names one that several graphs can share), so it is
not given to other tensors while the graph may still write it.
"""
from __future__ import annotations

import gc

from ember.cuda import _common

__all__ = ["is_current_stream_capturing", "graph_pool_handle", "CUDAGraph", "graph", "make_graphed_callables"]

_POOLS: dict = {}  # pool handle -> MemPool


def is_current_stream_capturing() -> bool:
    """Whether the current stream is being captured into a CUDA graph.

    Returns:
        A bool.
    """
    return bool(_common.cupy().cuda.get_current_stream().is_capturing())


def graph_pool_handle():
    """A handle naming a new memory pool, for graphs to share (``CUDAGraph.capture_begin(pool=...)``).

    Returns:
        An opaque handle (a tuple of two ints).
    """
    from ember.cuda.memory import MemPool
    pool = MemPool()
    _POOLS[pool.id] = pool
    return pool.id


def _pool_of(handle):
    from ember.cuda.memory import MemPool
    if handle is None:
        pool = MemPool()
        _POOLS[pool.id] = pool
        return pool
    if isinstance(handle, MemPool):
        return handle
    try:
        return _POOLS[tuple(handle)]
    except (KeyError, TypeError):
        raise RuntimeError(f"unknown graph pool handle {handle!r}: use ember.cuda.graph_pool_handle() or "
                           f"another graph's pool()") from None


_MODES = ("default", "global", "thread_local", "relaxed")


class CUDAGraph:
    """A recorded sequence of GPU work that ``replay`` launches again.

    Args:
        keep_graph: keep the captured graph after instantiating it (CuPy instantiates at
            ``capture_end``; the graph is kept either way, so ``raw_cuda_graph`` answers).
    """

    def __init__(self, keep_graph: bool = False):
        _common.cupy()
        self.keep_graph = keep_graph
        self._graph = None
        self._stream = None
        self._pool = None
        self._allocator = None
        self._debug = False

    def capture_begin(self, pool=None, capture_error_mode: str = "global") -> None:
        """Start recording the work queued on the current stream.

        Args:
            pool: a handle from ``graph_pool_handle()`` or another graph's ``pool()`` (default: a new pool).
            capture_error_mode: ``"global"``, ``"thread_local"`` or ``"relaxed"`` (CUDA's capture modes).

        Raises:
            RuntimeError: on the default stream, which cannot be captured.
        """
        cp = _common.cupy()
        if capture_error_mode not in _MODES:
            raise RuntimeError(f"Unknown capture error mode. Expected one of {_MODES}, got: {capture_error_mode}")
        stream = cp.cuda.get_current_stream()
        if stream.ptr == 0:
            raise RuntimeError("CUDA graphs must be captured on a non-default stream. (However, after capture, "
                               "it's ok to replay them on the default stream.)")
        runtime = cp.cuda.runtime
        mode = {"default": runtime.streamCaptureModeGlobal, "global": runtime.streamCaptureModeGlobal,
                "thread_local": runtime.streamCaptureModeThreadLocal,
                "relaxed": runtime.streamCaptureModeRelaxed}[capture_error_mode]
        self._pool = _pool_of(pool)
        self._allocator = cp.cuda.using_allocator(self._pool._pool.malloc)
        self._allocator.__enter__()
        self._stream = stream
        stream.begin_capture(mode)

    def capture_end(self) -> None:
        """Stop recording; the graph is ready to ``replay``."""
        try:
            self._graph = self._stream.end_capture()
        finally:
            self._allocator.__exit__(None, None, None)
            self._allocator = None

    def instantiate(self) -> None:
        """Make the graph launchable: CuPy did it at ``capture_end``."""
        self._check()

    def replay(self) -> None:
        """Launch the recorded work again, on the current stream."""
        self._check()
        self._graph.launch(stream=_common.cupy().cuda.get_current_stream())

    def reset(self) -> None:
        """Drop the recorded graph (its pool's memory stays with the pool)."""
        self._graph = None

    def pool(self):
        """The handle of this graph's memory pool, for other graphs to share.

        Returns:
            A handle.
        """
        if self._pool is None:
            raise RuntimeError("the graph has no pool before capture_begin()")
        _POOLS[self._pool.id] = self._pool
        return self._pool.id

    def enable_debug_mode(self) -> None:
        """Allow ``debug_dump`` after the capture."""
        self._debug = True

    def debug_dump(self, debug_path: str) -> None:
        """Write the graph in Graphviz's dot language to ``debug_path``.

        Args:
            debug_path: the file to write.
        """
        self._check()
        if not self._debug:
            raise RuntimeError("call enable_debug_mode() before debug_dump()")
        with open(debug_path, "w") as f:
            f.write(self._graph.debug_dot_str())

    @property
    def raw_cuda_graph(self) -> int:
        """The ``cudaGraph_t`` handle, as an int."""
        self._check()
        return int(self._graph.graph)

    @property
    def raw_cuda_graph_exec(self) -> int:
        """The ``cudaGraphExec_t`` handle, as an int."""
        self._check()
        return int(self._graph.graphExec)

    def _check(self):
        if self._graph is None:
            raise RuntimeError("the CUDA graph has not been captured (call capture_begin() and capture_end())")


class graph:
    """Context manager capturing the block's GPU work into ``cuda_graph`` (on a side stream).

    Args:
        cuda_graph: the ``CUDAGraph`` to fill.
        pool: a pool handle to share (default: the graph's own pool).
        stream: the stream to capture on (default: a new one).
        capture_error_mode: CUDA's capture mode (see ``CUDAGraph.capture_begin``).
    """

    def __init__(self, cuda_graph, pool=None, stream=None, capture_error_mode: str = "global", **kwargs):
        from ember.cuda.streams import Stream
        self.cuda_graph = cuda_graph
        self.pool = pool
        self.capture_stream = stream if stream is not None else Stream()
        self.capture_error_mode = capture_error_mode

    def __enter__(self):
        from ember.cuda import synchronize
        from ember.cuda.memory import empty_cache
        synchronize()
        gc.collect()  # so memory freed by Python reaches the pool before the capture
        empty_cache()
        self.capture_stream.__enter__()
        self.cuda_graph.capture_begin(self.pool, capture_error_mode=self.capture_error_mode)

    def __exit__(self, *exc):
        try:
            self.cuda_graph.capture_end()
        finally:
            self.capture_stream.__exit__(*exc)
        return False


def make_graphed_callables(callables, sample_args, num_warmup_iters: int = 3, allow_unused_input: bool = False,
                           pool=None):
    """Graphed versions of callables: each call copies its inputs into the captured ones and replays
    a CUDA graph of the forward pass; backward replays a graph of the backward pass.

    Args:
        callables: a callable (or ``nn.Module``) or a tuple of them.
        sample_args: a tuple of the tensors each callable is called with (a tuple of tuples for several).
        num_warmup_iters: calls run before the capture, so lazily made state (workspaces) exists.
        allow_unused_input: let inputs that the outputs do not depend on get no gradient.
        pool: a pool handle for the graphs' memory (default: one shared by all of them).

    Returns:
        The graphed callable (or tuple of them); modules get their ``forward`` replaced.
    """
    import ember
    from ember.cuda.streams import Stream

    _common.cupy()
    single = not isinstance(callables, tuple)
    if single:
        callables, sample_args = (callables,), (sample_args,)
    pool = graph_pool_handle() if pool is None else pool
    graphed = []
    for fn, args in zip(callables, sample_args):
        args = tuple(args)
        params = tuple(p for p in fn.parameters() if p.requires_grad) if isinstance(fn, ember.nn.Module) else ()
        needs_grad = tuple(a for a in args if a.requires_grad) + params
        side = Stream()
        with side:
            for _ in range(num_warmup_iters):
                outs = fn(*args)
                outs_t = outs if isinstance(outs, tuple) else (outs,)
                if needs_grad:
                    ember.autograd.grad([o for o in outs_t if o.requires_grad], needs_grad,
                                        [ember.ones_like(o) for o in outs_t if o.requires_grad],
                                        allow_unused=allow_unused_input)
        forward_graph = CUDAGraph()
        with graph(forward_graph, pool=pool):
            static_outputs = fn(*args)
        was_tuple = isinstance(static_outputs, tuple)
        static_outputs = static_outputs if was_tuple else (static_outputs,)
        static_grad_outputs = tuple(ember.zeros_like(o) if o.requires_grad else None for o in static_outputs)
        backward_graph = CUDAGraph()
        static_grads = ()
        if needs_grad:
            with graph(backward_graph, pool=pool):
                pairs = [(o, g) for o, g in zip(static_outputs, static_grad_outputs) if g is not None]
                static_grads = ember.autograd.grad([o for o, _ in pairs], needs_grad, [g for _, g in pairs],
                                                   allow_unused=allow_unused_input)
        graphed.append(_graphed(fn, args, static_outputs, static_grad_outputs, static_grads, needs_grad,
                                forward_graph, backward_graph, was_tuple))
    return graphed[0] if single else tuple(graphed)


def _graphed(fn, static_inputs, static_outputs, static_grad_outputs, static_grads, needs_grad, fwd, bwd,
             was_tuple):
    import ember

    n_inputs = len(static_inputs)

    class Graphed(ember.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            with ember.no_grad():
                for static, given in zip(static_inputs, inputs[:n_inputs]):
                    if static.data_ptr() != given.data_ptr():
                        static.copy_(given)
            fwd.replay()
            return tuple(o.detach() for o in static_outputs)

        @staticmethod
        def backward(ctx, *grads):
            with ember.no_grad():
                for static, g in zip(static_grad_outputs, grads):
                    if static is not None and g is not None:
                        static.copy_(g)
            bwd.replay()
            by_tensor = {id(t): g for t, g in zip(needs_grad, static_grads)}
            found = (by_tensor.get(id(t)) for t in (*static_inputs, *params))
            return tuple(None if g is None else g.detach() for g in found)

    params = tuple(p for p in needs_grad if all(p is not a for a in static_inputs))

    def run(*inputs):
        outs = Graphed.apply(*inputs, *params)
        return outs if was_tuple else outs[0]

    if isinstance(fn, ember.nn.Module):
        fn.forward = run
        return fn
    return run
