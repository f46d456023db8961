"""``python -m ember``: plugins (available or not, and why), devices, dtypes, op coverage.

``python -m ember coverage`` prints only the op x backend coverage matrix.
"""
from __future__ import annotations

import sys

from ember.dispatch.ops import OPS, PRIMITIVE
from ember.dispatch.registry import REGISTRY
from ember.dispatch.table import coverage

_MARK = {"native": "N", "composite": "c", "fallback": "F", "missing": "-"}


def plugin_report() -> str:
    REGISTRY.probe_all()
    lines = ["ember backend plugins:"]
    for device_type, backend in sorted(REGISTRY.backends.items(), key=lambda kv: kv[0] != "cpu"):
        info = backend.describe()
        plugin = REGISTRY.plugin_of.get(device_type, "?")
        if info["available"]:
            lines.append(f"  {device_type:8} available    plugin={plugin} {info['version']} key={info['dispatch_key']} "
                         f"devices={info['devices']}")
            lines.append(f"  {'':8} dtypes: {', '.join(info['dtypes'])}")
        else:
            version = f" {info['version']}" if info["version"] else ""
            lines.append(f"  {device_type:8} unavailable  plugin={plugin}{version}: {info['reason']}")
    for failure in REGISTRY.failures:
        lines.append(f"  {failure.name:8} FAILED       {failure.error}")
        lines.append(f"  {'':8} skip it with EMBER_BACKENDS=<the plugins to load>, e.g. EMBER_BACKENDS=cpu")
    for name in REGISTRY.skipped:
        lines.append(f"  {name:8} skipped      (not selected by EMBER_BACKENDS)")
    return "\n".join(lines)


def coverage_table() -> dict:
    """{device type: {op: status}} for every available backend, from the dispatch table."""
    REGISTRY.probe_all()
    return {d: coverage(d) for d, b in REGISTRY.backends.items() if b.is_available()}


def coverage_report() -> str:
    table = coverage_table()
    devices = sorted(table, key=lambda d: d != "cpu")
    width = max(len(name) for name in OPS) + 2
    lines = ["op coverage (N native kernel, c composite, F CPU fallback, - missing):",
             " " * width + "kind       " + "  ".join(f"{d:>7}" for d in devices)]
    for name, op in OPS.items():
        lines.append(f"{name:<{width}}{op.kind:<11}" + "  ".join(f"{_MARK[table[d][name]]:>7}" for d in devices))
    for d in devices:
        counts = {k: 0 for k in _MARK}
        for status in table[d].values():
            counts[status] += 1
        prims = sum(1 for op in OPS.values() if op.kind == PRIMITIVE)
        lines.append(f"summary {d}: {counts['native']} native, {counts['composite']} composite, "
                     f"{counts['fallback']} CPU fallback, {counts['missing']} missing "
                     f"({len(OPS)} ops, {prims} primitives)")
    return "\n".join(lines)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    import ember
    if argv[:1] == ["coverage"]:
        print(coverage_report())
        return 0
    print(f"ember {ember.__version__}")
    print(plugin_report())
    print()
    print(coverage_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
