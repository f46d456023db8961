"""Replay the recorded PyTorch outcomes on an ember device and report every difference.

    python -m tests.differential.replay --device cpu --report /tmp/differential/cpu.json
    python -m tests.differential.replay --device mps --only 'reduce|matmul'   # a subset

Run from the repository root (the project's venv; ``OPENBLAS_NUM_THREADS=1
EMBER_MPS_DEVICE=cpu`` as for the tests). Each case of ``cases.py`` runs with ``torch`` =
ember: inputs are made with ``torch.tensor(array, dtype=...)`` and moved with
``.to(device)``, and code that creates tensors passes ``device=device``. The outcome must
match the fixture: the same kind (tensor / tuple / Python value / exception); tensors of
the same dtype, shape and device type with values equal within a tolerance for the dtype;
for an exception, an instance of the same builtin base class (a subclass is fine).

The replay runs in a worker subprocess, so that a backend library that kills the process
(a SIGFPE inside MLX, say) costs one case, not the run: the case is reported as a failure
naming the signal and a new worker carries on after it. A case whose inputs, or whose
on-device tensors, use a dtype the device does not support (mps: float64) is skipped and
counted. Exit status: 0 when nothing failed, 1 when some case failed, 2 when the replay
could not run at all.

The fixture, ``pytorch_2_13.npz``, is made by hand with PyTorch 2.13.0 (see
``record_pytorch.py``):

    python3 -m venv /tmp/torch-venv && /tmp/torch-venv/bin/pip install torch==2.13.0 numpy
    /tmp/torch-venv/bin/python -m tests.differential.record_pytorch
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

from tests.differential.cases import build_cases, describe, describe_exception, dtype_name, execute

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
FIXTURE = os.path.join(HERE, "pytorch_2_13.npz")

# (rtol, atol) per dtype. Half precision gets a few units in the last place (float16 keeps
# 11 significant bits, bfloat16 8): ember computes its math in float32 and rounds once, while
# PyTorch's kernels round some intermediates to the half type (its float16 log_softmax rounds
# the sum of exponentials before the log: up to 6 ulps from the exact value), so the two can
# differ without either being wrong. atol is far below every dtype's ordinary values and only
# absorbs results that should be zero.
TOLERANCE = {"float16": (8 * 2**-11, 1e-5), "bfloat16": (8 * 2**-8, 1e-5), "float32": (1e-5, 1e-7),
             "float64": (1e-10, 1e-12)}
PY_FLOAT_RTOL = 1e-6  # Python floats read from a tensor: the tensor's own value


# ------------------------------------------------------------------------- the fixture
def load_fixture(path):
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["meta"]).decode())
        stores = {k[len("values_"):]: z[k] for k in z.files if k.startswith("values_")}
    return meta, stores


def decode(enc, stores):
    """A recorded outcome back into ``describe``'s tuple form (device left as None)."""
    k = enc["k"]
    if k == "tensor":
        flat = stores[enc["store"]][enc["offset"]:enc["offset"] + enc["count"]]
        return ("tensor", enc["dtype"], tuple(enc["shape"]), None, flat.reshape(enc["shape"]))
    if k == "seq":
        return ("seq", enc["kind"], [decode(e, stores) for e in enc["items"]])
    if k == "py":
        return ("py", enc["kind"], enc["value"])
    if k == "other":
        return ("other", enc["type"], enc["repr"])
    return ("exception", enc["type"], enc["base"], enc["message"])


# ------------------------------------------------------------------------ comparison
def close_floats(expected, got, rtol, atol):
    """Where values differ beyond tolerance: NaN must meet NaN, an infinity the same
    infinity; -0.0 and 0.0 count as equal."""
    e = np.asarray(expected, dtype=np.float64)
    g = np.asarray(got, dtype=np.float64)
    nan_e, nan_g = np.isnan(e), np.isnan(g)
    bad = nan_e != nan_g
    inf_e = np.isinf(e)
    bad |= inf_e & ~nan_g & (g != e)
    finite = ~nan_e & ~inf_e
    with np.errstate(invalid="ignore", over="ignore"):
        bad |= finite & ~(np.abs(g - e) <= atol + rtol * np.abs(e))
    return bad


def compare(expected, got, device_type):
    """None when ``got`` matches ``expected``, else a short reason."""
    if expected[0] == "exception":
        if got[0] != "exception":
            return f"expected {expected[1]}, got a result"
        if expected[2] not in got[4]:
            return f"expected {expected[2]} or a subclass (PyTorch raised {expected[1]}), got {got[1]}: {got[3][:100]}"
        return None
    if got[0] == "exception":
        return f"raised {got[1]}: {got[3][:100]}"
    if expected[0] != got[0]:
        return f"expected a {expected[0]} result, got a {got[0]} result"
    if expected[0] == "tensor":
        _, dtype, shape, _, values = expected
        if got[1] != dtype:
            return f"dtype {got[1]}, expected {dtype}"
        if tuple(got[2]) != tuple(shape):
            return f"shape {tuple(got[2])}, expected {tuple(shape)}"
        if got[3] != device_type:
            return f"on device {got[3]}, expected {device_type}"
        g = np.asarray(got[4])
        if g.shape != values.shape:
            return f"values of shape {g.shape} for a tensor of shape {tuple(shape)}"
        if dtype in TOLERANCE:
            bad = close_floats(values, g, *TOLERANCE[dtype])
        else:
            bad = np.asarray(values != g.astype(values.dtype, copy=False)) if g.dtype != object else True
        if np.any(bad):
            where = np.argwhere(np.atleast_1d(bad))
            n = int(np.count_nonzero(bad))
            first = tuple(int(i) for i in where[0]) if values.ndim else ()
            return (f"{n} of {values.size} values differ, first at {first}: "
                    f"got {g[first] if values.ndim else g!r}, expected {values[first] if values.ndim else values!r}")
        return None
    if expected[0] == "seq":
        if got[1] != expected[1]:
            return f"a {got[1]}, expected a {expected[1]}"
        if len(got[2]) != len(expected[2]):
            return f"{len(got[2])} items, expected {len(expected[2])}"
        for n, (e, g) in enumerate(zip(expected[2], got[2])):
            reason = compare(e, g, device_type)
            if reason:
                return f"item {n}: {reason}"
        return None
    if expected[0] == "py":
        if got[1] != expected[1]:
            return f"a Python {got[1]}, expected a {expected[1]}"
        if expected[1] in ("float", "complex"):
            e = np.atleast_1d(np.asarray(expected[2], dtype=np.float64))
            g = np.atleast_1d(np.asarray(got[2], dtype=np.float64))
            return f"{got[2]!r}, expected {expected[2]!r}" if close_floats(e, g, PY_FLOAT_RTOL, 0).any() else None
        g = list(got[2]) if expected[1] == "Size" else _as_torch_names(got[2])
        return None if g == expected[2] else f"{got[2]!r}, expected {expected[2]!r}"
    # "other": anything else PyTorch returned, compared by type name and repr
    got = (got[0], got[1], _as_torch_names(got[2]))
    return None if got[1:] == expected[1:] else f"{got[1]} {got[2]}, expected {expected[1]} {expected[2]}"


def _as_torch_names(text):
    """ember prints its own module name where PyTorch prints ``torch`` (``ember.float32``,
    ``ember.Size([2])``): programs that use ``import ember as torch`` see ember's names, the
    same objects; the names are compared as if ember were called torch."""
    return text.replace("ember.", "torch.") if isinstance(text, str) else text


def short(desc, limit=160):
    """A one-line rendering of an outcome for the report."""
    k = desc[0]
    if k == "tensor":
        values = np.array2string(np.asarray(desc[4]), threshold=12, edgeitems=3, precision=6,
                                 separator=", ", max_line_width=10**6).replace("\n", "")
        text = f"tensor({values}, dtype={desc[1]}, shape={tuple(desc[2])}" + \
               (f", device={desc[3]})" if desc[3] else ")")
    elif k == "seq":
        text = ("(" if desc[1] == "tuple" else "[") + ", ".join(short(d, 60) for d in desc[2]) + \
               (")" if desc[1] == "tuple" else "]")
    elif k == "py":
        text = f"{desc[1]}: {desc[2]!r}"
    elif k == "other":
        text = f"{desc[1]}: {desc[2]}"
    else:
        text = f"{desc[1]} (base {desc[2]}): {desc[3]}"
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------------------- worker
class CaseTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise CaseTimeout("the case ran past its time limit")


def selected_cases(only):
    cases = build_cases()
    if only:
        pattern = re.compile(only)
        cases = [c for c in cases if pattern.search(c.id) or pattern.search(c.family)]
    return cases


def unsupported(case, supported, recorded):
    """The dtype (not in ``supported``, the device's) that makes the case inapplicable
    there, or None: one of its inputs' dtypes, or, for a case on the device, a dtype its
    code names or PyTorch's result has."""
    used = set(case.input_dtypes)
    if case.on_device:
        used |= case.mentioned_dtypes()
        stack = [recorded]
        while stack:
            d = stack.pop()
            if d[0] == "tensor":
                used.add(d[1])
            elif d[0] == "seq":
                stack.extend(d[2])
    missing = sorted(d for d in used if d not in supported)
    return missing[0] if missing else None


def worker(args):
    """Run the cases not yet in the results file, appending one JSON line per case (a
    ``start`` line before it, so the supervisor knows which case killed a worker)."""
    import ember as torch
    from ember.dispatch.registry import REGISTRY

    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    meta, stores = load_fixture(args.fixture)
    backend = REGISTRY.available_backend(args.device)
    supported = {dtype_name(torch, d) for d in backend.supported_dtypes()}
    device_type = torch.device(args.device).type

    done = set()
    if os.path.exists(args.results):
        with open(args.results) as f:
            for line in f:
                rec = json.loads(line)
                done.add(rec.get("id") or rec.get("start"))
    if args.exclude_file and os.path.exists(args.exclude_file):
        with open(args.exclude_file) as f:
            done |= {line.strip() for line in f if line.strip()}

    signal.signal(signal.SIGALRM, _alarm)
    with open(args.results, "a") as out:
        def emit(rec):
            out.write(json.dumps(rec) + "\n")
            out.flush()

        for case in selected_cases(args.only):
            if case.id in done:
                continue
            emit({"start": case.id})
            rec = {"id": case.id, "family": case.family, "code": case.code,
                   "dtypes": list(case.input_dtypes)}
            stored = meta["cases"].get(case.id)
            if stored is None:
                emit({**rec, "status": "fail", "reason": "not in the fixture: re-record it"})
                continue
            if stored["digest"] != case.digest():
                emit({**rec, "status": "fail", "reason": "stale fixture: the case changed since recording; re-record it"})
                continue
            expected = decode(stored["outcome"], stores)
            missing = unsupported(case, supported, expected)
            if missing:
                emit({**rec, "status": "skip", "reason": f"{missing} unsupported on {args.device}"})
                continue
            signal.alarm(args.case_timeout)
            try:
                got = describe(torch, execute(case, torch, args.device))
            except Exception as e:  # noqa: BLE001 - the exception is the outcome
                got = describe_exception(e)
            finally:
                signal.alarm(0)
            expected_device = device_type if case.on_device else "cpu"
            try:
                reason = compare(expected, got, expected_device)
                got_text = short(got)
            except Exception as e:  # noqa: BLE001 - a result the replay cannot read is a failure
                reason, got_text = f"could not compare: {type(e).__name__}: {e}", repr(got)[:160]
            if reason:
                emit({**rec, "status": "fail", "kind": stored["kind"], "reason": reason,
                      "expected": short(expected), "got": got_text})
            else:
                emit({**rec, "status": "pass"})
        emit({"finished": True})
    return 0


# ------------------------------------------------------------------------ supervisor
def supervise(args):
    """Run workers until every case has a result; a worker killed by a signal, exiting
    early, or silent for ``--hang-timeout`` seconds costs the case it was running."""
    start = time.time()
    tmp = tempfile.mkdtemp(prefix="ember-differential-")
    results = os.path.join(tmp, "results.jsonl")
    exclude = os.path.join(tmp, "exclude.txt")
    crashes = []
    fatal = None
    while True:
        cmd = [sys.executable, "-m", "tests.differential.replay", "--worker", "--device", args.device,
               "--results", results, "--exclude-file", exclude, "--fixture", args.fixture,
               "--case-timeout", str(args.case_timeout)]
        if args.only:
            cmd += ["--only", args.only]
        seen = len(_read(results))
        log_path = os.path.join(tmp, f"worker-{len(crashes)}.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
            last_size, last_change = -1, time.time()
            hung = False
            while proc.poll() is None:
                time.sleep(0.2)
                size = os.path.getsize(results) if os.path.exists(results) else 0
                if size != last_size:
                    last_size, last_change = size, time.time()
                elif time.time() - last_change > args.hang_timeout:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    hung = True
        records = _read(results)
        if records and records[-1].get("finished"):
            break
        with open(log_path, "rb") as log:
            tail = log.read()[-3000:].decode(errors="replace").strip()
        current = _unfinished(records[seen:])  # only a case this worker started
        if current is None:
            fatal = f"the worker exited with status {proc.returncode} before running a case:\n{tail}"
            break
        if hung:
            how = f"no progress for {args.hang_timeout} s (killed)"
        elif proc.returncode < 0:
            how = f"killed by {signal.Signals(-proc.returncode).name}"
        else:
            last_line = tail.splitlines()[-1] if tail else ""
            how = f"the worker exited with status {proc.returncode}: {last_line[:200]}"
        crashes.append({"id": current, "how": how})
        with open(exclude, "a") as f:
            f.write(current + "\n")
        if len(crashes) >= args.max_crashes:
            fatal = f"stopped after {len(crashes)} crashed cases"
            break
    status = _report(args, _read(results), crashes, fatal, time.time() - start)
    shutil.rmtree(tmp, ignore_errors=True)
    return status


def _read(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _unfinished(records):
    finished = {r["id"] for r in records if "id" in r}
    starts = [r["start"] for r in records if "start" in r and r["start"] not in finished]
    return starts[-1] if starts else None


def _report(args, records, crashes, fatal, elapsed):
    cases = {c.id: c for c in selected_cases(args.only)}
    by_id = {r["id"]: r for r in records if "id" in r}
    for crash in crashes:
        c = cases[crash["id"]]
        by_id[c.id] = {"id": c.id, "family": c.family, "code": c.code, "dtypes": list(c.input_dtypes),
                       "status": "fail", "reason": f"crash: {crash['how']}", "expected": "", "got": crash["how"]}
    results = [by_id[i] for i in cases if i in by_id]
    failures = [r for r in results if r["status"] == "fail"]
    skipped = [r for r in results if r["status"] == "skip"]
    skipped_reasons, failed_by_family = {}, {}
    for r in skipped:
        skipped_reasons[r["reason"]] = skipped_reasons.get(r["reason"], 0) + 1
    for r in failures:
        failed_by_family[r["family"]] = failed_by_family.get(r["family"], 0) + 1
    meta = {}
    try:
        meta, _ = load_fixture(args.fixture)
    except OSError:
        pass
    report = {
        "device": args.device,
        "fixture": os.path.relpath(args.fixture, REPO),
        "recorded_with_torch": meta.get("torch_version"),
        "cases": len(cases),
        "run": len(results) - len(skipped),
        "passed": sum(r["status"] == "pass" for r in results),
        "failed": len(failures),
        "skipped": len(skipped),
        "not_reached": len(cases) - len(results),
        "skipped_reasons": skipped_reasons,
        "crashes": crashes,
        "failed_by_family": dict(sorted(failed_by_family.items(), key=lambda kv: -kv[1])),
        "elapsed_s": round(elapsed, 1),
        "error": fatal,
        "failures": [{k: r.get(k) for k in ("id", "family", "code", "dtypes", "reason", "expected", "got")}
                     for r in failures],
    }
    if args.report:
        folder = os.path.dirname(os.path.abspath(args.report))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".replay.", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(report, f, indent=1)
        os.chmod(tmp, 0o644)
        os.replace(tmp, args.report)
    print(f"{args.device}: {report['cases']} cases, {report['run']} run, {report['passed']} passed, "
          f"{report['failed']} failed, {report['skipped']} skipped, {len(crashes)} crashed "
          f"({report['elapsed_s']} s)")
    for family, n in report["failed_by_family"].items():
        print(f"  {family:18s} {n} failed")
    if fatal:
        print(f"error: {fatal}", file=sys.stderr)
        return 2
    return 1 if failures or report["not_reached"] else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="an ember device: cpu, mps, opencl, counting, ...")
    parser.add_argument("--report", help="write the JSON report here")
    parser.add_argument("--only", help="a regular expression over case ids and family names")
    parser.add_argument("--fixture", default=FIXTURE)
    parser.add_argument("--case-timeout", type=int, default=60, help="seconds one case may take")
    parser.add_argument("--hang-timeout", type=int, default=180,
                        help="seconds without progress before a worker is killed")
    parser.add_argument("--max-crashes", type=int, default=50)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--exclude-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not os.path.exists(args.fixture):
        print(f"no fixture at {args.fixture}: record it (see record_pytorch.py)", file=sys.stderr)
        return 2
    return worker(args) if args.worker else supervise(args)


if __name__ == "__main__":
    sys.exit(main())
