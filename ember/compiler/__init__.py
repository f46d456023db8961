"""ember.compiler: the user-facing switches of compilation (PyTorch's ``torch.compiler``)."""
from ember._dynamo.api import disable, is_compiling, reset
from ember._dynamo.decorators import allow_in_graph, assume_constant_result
from ember._dynamo.eval_frame import list_backends
from ember._dynamo.guard_collectives import set_enable_guard_collectives
from ember.compiler import config
from ember.compiler._aot import load_compiled_function
from ember.compiler._api import (CacheInfo, compile, load_cache_artifacts, save_cache_artifacts, cudagraph_mark_step_begin, get_default_backend, is_exporting,
                                 keep_portable_guards_unsafe, keep_tensor_guards_unsafe, nested_compile_region,
                                 set_default_backend, set_stance, skip_all_guards_unsafe,
                                 skip_guard_on_all_nn_modules_unsafe, skip_guard_on_globals_unsafe,
                                 skip_guard_on_inbuilt_nn_modules_unsafe, substitute_in_graph, wrap_numpy)


def is_dynamo_compiling() -> bool:
    """Whether a program is being captured right now (as ``is_compiling``)."""
    return is_compiling()


__all__ = ["allow_in_graph", "assume_constant_result", "compile", "config", "cudagraph_mark_step_begin", "disable",
           "get_default_backend", "is_compiling", "is_dynamo_compiling", "is_exporting", "keep_portable_guards_unsafe",
           "keep_tensor_guards_unsafe", "list_backends", "nested_compile_region", "reset", "set_default_backend",
           "set_enable_guard_collectives", "set_stance", "load_compiled_function", "save_cache_artifacts", "load_cache_artifacts", "CacheInfo", "skip_all_guards_unsafe", "skip_guard_on_all_nn_modules_unsafe",
           "skip_guard_on_globals_unsafe", "skip_guard_on_inbuilt_nn_modules_unsafe", "substitute_in_graph",
           "wrap_numpy"]
