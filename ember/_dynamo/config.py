"""Settings of ``ember.compile`` (PyTorch's ``torch._dynamo.config`` names)."""

#: compiled graphs kept per compiled function before it runs eagerly (PyTorch's default: 8)
recompile_limit = 8
#: the older name of ``recompile_limit``; either may be set (the smaller one applies)
cache_size_limit = 8
#: raise ``RecompileLimitExceeded`` instead of falling back to eager at the limit
fail_on_recompile_limit_hit = False
#: log each capture and recompilation reason with ``logging`` (logger ``ember._dynamo``)
verbose = False
#: on an error inside capture (not the program's own), run eagerly instead of raising
suppress_errors = False
