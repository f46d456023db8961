"""One rank of the guard-collectives check (2 ranks under emberrun): with guard collectives on, a
shape change on one rank makes every rank capture again; with them off only that rank does."""
import ember as torch
import ember.distributed as dist
from ember._dynamo.guard_collectives import GuardCollectives

dist.init_process_group("gloo")
r = dist.get_rank()


def run(enabled):
    assert torch.compiler.set_enable_guard_collectives(enabled) is (not enabled)
    f = torch.compile(lambda x: torch.relu(x) * 2)
    x = torch.randn(3)
    f(x)                                    # first call: nothing to guard, no collective
    issued = GuardCollectives.issued
    f(x)                                    # every rank hits
    other = torch.randn(4) if r == 1 else x  # rank 1 alone misses
    out = f(other)
    assert torch.allclose(out, torch.relu(other) * 2)
    gathers = GuardCollectives.issued - issued
    return f._captures, gathers


captures_on, gathers_on = run(True)
captures_off, gathers_off = run(False)
assert gathers_on == 2 and gathers_off == 0, (r, gathers_on, gathers_off)
assert captures_on == 2, (r, captures_on)               # rank 0 recaptured with rank 1
assert captures_off == (2 if r == 1 else 1), (r, captures_off)
print(f"rank {r} ok")
