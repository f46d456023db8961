"""ember._inductor: the graph passes of ``ember.compile``'s default backend (fusion)."""
