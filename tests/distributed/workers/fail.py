"""One rank of the fail-fast check: rank 1 raises while the others wait in a collective."""
import sys
import time

import ember as torch
import ember.distributed as dist

dist.init_process_group("gloo")
if dist.get_rank() == 1:
    raise ValueError(f"rank one gives up ({sys.argv[1]})")
dist.all_reduce(torch.ones(1))   # never completes: rank 1 is gone
time.sleep(120)
