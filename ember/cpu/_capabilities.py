"""What the CPU offers, read from the operating system (Linux's /proc/cpuinfo and sysfs), for
``ember.cpu.get_capabilities()``."""
from __future__ import annotations

import os
import platform
import types

# PyTorch's capability name -> the Linux cpuinfo flag that says it
_X86_FLAGS = {
    "sse": "sse", "sse2": "sse2", "sse3": "pni", "ssse3": "ssse3", "sse4_1": "sse4_1", "sse4_2": "sse4_2",
    "sse4a": "sse4a", "avx": "avx", "avx2": "avx2", "fma3": "fma", "fma4": "fma4", "f16c": "f16c",
    "popcnt": "popcnt", "lzcnt": "abm", "bmi": "bmi1", "bmi2": "bmi2", "aes": "aes", "sha": "sha_ni",
    "clflush": "clflush", "clflushopt": "clflushopt", "clwb": "clwb", "avx_vnni": "avx_vnni",
    "avx_vnni_int8": "avx_vnni_int8", "avx_vnni_int16": "avx_vnni_int16", "avx_ne_convert": "avx_ne_convert",
    "avx512_f": "avx512f", "avx512_cd": "avx512cd", "avx512_dq": "avx512dq", "avx512_bw": "avx512bw",
    "avx512_vl": "avx512vl", "avx512_ifma": "avx512ifma", "avx512_vbmi": "avx512vbmi",
    "avx512_vbmi2": "avx512_vbmi2", "avx512_bitalg": "avx512_bitalg", "avx512_vnni": "avx512_vnni",
    "avx512_vpopcntdq": "avx512_vpopcntdq", "avx512_bf16": "avx512_bf16", "avx512_fp16": "avx512_fp16",
    "avx512_4vnniw": "avx512_4vnniw", "avx512_4fmaps": "avx512_4fmaps",
    "avx512_vp2intersect": "avx512_vp2intersect", "amx_tile": "amx_tile", "amx_int8": "amx_int8",
    "amx_bf16": "amx_bf16", "amx_fp16": "amx_fp16", "avx10_1": "avx10_1", "avx10_2": "avx10_2",
}


def _cpuinfo() -> tuple[set, str, int]:
    flags: set = set()
    name = platform.processor() or ""
    sockets: set = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("flags", "Features") and not flags:
                    flags = set(value.split())
                elif key == "model name" and not name:
                    name = value.strip()
                elif key == "physical id":
                    sockets.add(value.strip())
    except OSError:
        pass
    return flags, name, max(len(sockets), 1)


def _cache_size(level: int, kind: str) -> int:
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in sorted(os.listdir(base)):
            path = os.path.join(base, entry)
            with open(os.path.join(path, "level")) as f:
                if int(f.read()) != level:
                    continue
            with open(os.path.join(path, "type")) as f:
                if f.read().strip() not in kind:
                    continue
            with open(os.path.join(path, "size")) as f:
                text = f.read().strip()
            units = {"K": 1024, "M": 1024 ** 2, "G": 1024 ** 3}
            return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    except (OSError, ValueError):
        pass
    return 0


def _physical_cores() -> int:
    try:
        seen = set()
        base = "/sys/devices/system/cpu"
        for entry in os.listdir(base):
            if entry.startswith("cpu") and entry[3:].isdigit():
                topo = os.path.join(base, entry, "topology")
                with open(os.path.join(topo, "core_id")) as f:
                    core = f.read().strip()
                with open(os.path.join(topo, "physical_package_id")) as f:
                    package = f.read().strip()
                seen.add((package, core))
        if seen:
            return len(seen)
    except OSError:
        pass
    return os.cpu_count() or 1


def capabilities() -> types.MappingProxyType:
    """The CPU's instruction-set features, caches and cores, under PyTorch's names."""
    flags, name, sockets = _cpuinfo()
    found: dict = {}
    if platform.machine().lower() in ("x86_64", "amd64", "i386", "i686"):
        found.update({ours: theirs in flags for ours, theirs in _X86_FLAGS.items()})
    else:  # Arm's features, as the kernel names them
        found.update({"neon": "asimd" in flags or "neon" in flags, "sve": "sve" in flags, "sve2": "sve2" in flags,
                      "bf16": "bf16" in flags, "i8mm": "i8mm" in flags, "fp16": "fphp" in flags,
                      "dotprod": "asimddp" in flags, "sme": "sme" in flags})
    found.update({"architecture": platform.machine(), "cpu_name": name, "num_sockets": sockets,
                  "num_logical_cores": os.cpu_count() or 1, "num_physical_cores": _physical_cores(),
                  "l1d_cache_size": _cache_size(1, ("Data", "Unified")),
                  "l2_cache_size": _cache_size(2, ("Unified", "Data"))})
    return types.MappingProxyType(found)
