"""Record PyTorch's outcome for every differential case into the fixture the tests replay.

Not a test and never run by the suite (tests must not import PyTorch). Run it by hand,
from the repository root, with a PyTorch virtual environment kept apart from ember's:

    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch==2.13.0 numpy
    /tmp/torch-venv/bin/python -m tests.differential.record_pytorch

It evaluates each case of ``cases.py`` on PyTorch's CPU twice (a case whose two outcomes
differ is ill-posed and must be dropped from cases.py; the script refuses to write then)
and writes ``tests/differential/pytorch_2_13.npz`` atomically: a temporary file in the
same folder, then os.replace. The fixture holds one JSON document (``meta``: per case its
digest and outcome) and one flat array per numpy dtype (``values_<dtype>``) that all
tensor results are slices of, which keeps the file small.
"""
import argparse
import json
import os
import sys
import tempfile
import warnings

import numpy as np
import torch

from tests.differential.cases import (InputConstructionFailed, build_cases, describe,
                                      describe_exception, execute)

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_FIXTURE = os.path.join(HERE, "pytorch_2_13.npz")
EXPECTED_TORCH = "2.13"


class Store:
    """Tensor values, concatenated per numpy dtype; a tensor is (dtype, offset, count)."""

    def __init__(self):
        self.chunks = {}
        self.sizes = {}

    def put(self, values):
        key = values.dtype.name
        offset = self.sizes.get(key, 0)
        self.chunks.setdefault(key, []).append(values.reshape(-1))
        self.sizes[key] = offset + values.size
        return key, offset

    def arrays(self):
        return {f"values_{k}": np.concatenate(v) for k, v in self.chunks.items()}


def encode(desc, store):
    """A JSON-able form of a ``describe`` / ``describe_exception`` tuple."""
    kind = desc[0]
    if kind == "tensor":
        _, dtype, shape, device, values = desc
        key, offset = store.put(values)
        return {"k": "tensor", "dtype": dtype, "shape": list(shape), "store": key,
                "offset": offset, "count": int(values.size)}
    if kind == "seq":
        return {"k": "seq", "kind": desc[1], "items": [encode(d, store) for d in desc[2]]}
    if kind == "py":
        return {"k": "py", "kind": desc[1], "value": desc[2]}
    if kind == "other":
        return {"k": "other", "type": desc[1], "repr": desc[2]}
    return {"k": "exception", "type": desc[1], "base": desc[2], "message": desc[3]}


def outcome_kind(desc):
    if desc[0] == "seq" and any(d[0] == "tensor" for d in desc[2]):
        return "tuple"
    return {"tensor": "tensor", "exception": "exception"}.get(desc[0], "python")


def run(case):
    try:
        return describe(torch, execute(case, torch, "cpu"))
    except InputConstructionFailed:
        raise  # a PyTorch that cannot build the inputs means the case itself is wrong
    except Exception as e:  # noqa: BLE001 - the exception is the outcome
        return describe_exception(e)


def same(d1, d2):
    """Whether two descriptions of the same case agree exactly (NaN equal to NaN)."""
    if d1[0] != d2[0] or len(d1) != len(d2):
        return False
    if d1[0] == "tensor":
        return d1[1:4] == d2[1:4] and np.array_equal(d1[4], d2[4], equal_nan=d1[4].dtype.kind == "f")
    if d1[0] == "seq":
        return d1[1] == d2[1] and len(d1[2]) == len(d2[2]) and all(map(same, d1[2], d2[2]))
    if d1[0] == "py" and isinstance(d1[2], float) and isinstance(d2[2], float):
        return d1[2] == d2[2] or (d1[2] != d1[2] and d2[2] != d2[2])
    return d1 == d2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_FIXTURE)
    args = parser.parse_args(argv)
    if not torch.__version__.startswith(EXPECTED_TORCH):
        sys.exit(f"record with torch {EXPECTED_TORCH} (the fixture's name says so), not {torch.__version__}")
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    torch.set_num_threads(1)  # one thread: the order of float accumulation is then fixed

    cases = build_cases()
    store = Store()
    records, unstable, kinds = {}, [], {}
    for n, case in enumerate(cases):
        first, second = run(case), run(case)
        if not same(first, second):
            unstable.append(case)
        kind = outcome_kind(first)
        kinds[kind] = kinds.get(kind, 0) + 1
        records[case.id] = {"digest": case.digest(), "kind": kind, "outcome": encode(first, store)}
        if n % 1000 == 0:
            print(f"{n}/{len(cases)}", file=sys.stderr)
    if unstable:
        for case in unstable:
            print(f"unstable: {case.id}: {case.code}", file=sys.stderr)
        sys.exit(f"{len(unstable)} cases give different outcomes on two runs: drop them from cases.py")

    meta = {"torch_version": torch.__version__, "numpy_version": np.__version__,
            "python_version": sys.version.split()[0], "cases": records}
    payload = store.arrays()
    payload["meta"] = np.frombuffer(json.dumps(meta, separators=(",", ":")).encode(), dtype=np.uint8)
    folder = os.path.dirname(os.path.abspath(args.out))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pytorch_fixture.", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, **payload)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the fixture is an ordinary file
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"{len(cases)} cases ({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))}) "
          f"-> {args.out} ({os.path.getsize(args.out) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
