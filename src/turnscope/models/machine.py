"""What this machine can give the embedded model: physical cores, free memory, and what one
worker process of a GGUF model needs; from these, the default `--workers`.

One llama.cpp worker per physical core plays that many conversations at once (hyper-threads
share a core's arithmetic units, so they add little to a decode). Each worker holds the weights,
its context's KV cache and a Python process, so the count is capped by the memory available.
Everything here reads /proc and /sys once and falls back to what os reports where they say
nothing (another OS, a sandbox without /sys)."""

from __future__ import annotations

import math
import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

PROCESS_BYTES = 100 << 20
"""A worker's own memory beside the weights and the KV cache: the interpreter, turnscope,
llama.cpp's compute buffers. Measured: a worker of the default model (94 MB of weights) with
the default context (94 MB of KV cache) is 266 MB resident once loaded and 289 MB after a
900-token prompt."""
MEMORY_SHARE = 0.75
"""The share of the available memory the workers may take: the rest is left to the run process,
the page cache and whatever else the machine runs."""
KV_BYTES_PER_VALUE = 2
"""llama.cpp keeps the KV cache in 16-bit floats by default."""

_MAX_HEADER = 16 << 20
"""How much of a GGUF file is read for its header (tokenizers of large vocabularies included)."""
_MAX_KEYS = 100_000
_MAX_STRING = 1 << 24
# GGUF value types: the fixed sizes, then 8 = string, 9 = array.
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_UNPACK = {4: "<I", 5: "<i", 10: "<Q", 11: "<q"}


@dataclass(frozen=True)
class WorkerCount:
    """How many embedded worker processes to start, and why that many."""

    count: int
    """Worker processes per role played by the embedded model (1: in the run's process)."""
    reason: str
    """What decided it, for the run's header."""


def physical_cores(
    cpus: Iterable[int] | None = None,
    sys_cpu: Path = Path("/sys/devices/system/cpu"),
    cgroup: Path = Path("/sys/fs/cgroup"),
) -> int:
    """The physical cores among `cpus` (default: those this process may run on, its affinity
    mask), within its cgroup's CPU quota; each (package, core) pair in /sys counts once."""
    allowed = sorted(cpus if cpus is not None else _allowed_cpus())
    cores: set[tuple[str, str] | int] = set()
    for cpu in allowed:
        topology = sys_cpu / f"cpu{cpu}" / "topology"
        try:
            package = (topology / "physical_package_id").read_text().strip()
            core = (topology / "core_id").read_text().strip()
        except OSError:
            cores.add(cpu)  # no topology: count each CPU as a core of its own
            continue
        cores.add((package, core))
    count = max(1, len(cores))
    quota = cgroup_cpu_quota(cgroup)
    return min(count, max(1, math.ceil(quota))) if quota is not None else count


def _allowed_cpus() -> set[int]:
    try:
        return os.sched_getaffinity(0)
    except AttributeError:  # not on Linux
        return set(range(os.cpu_count() or 1))


def cgroup_cpu_quota(root: Path = Path("/sys/fs/cgroup")) -> float | None:
    """CPUs' worth of time this process's cgroup may use (cgroup v2 cpu.max, v1 cfs quota);
    None when unlimited or unknown."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota_us / period_us if quota_us > 0 and period_us > 0 else None


def available_memory(
    meminfo: Path = Path("/proc/meminfo"), root: Path = Path("/sys/fs/cgroup")
) -> int | None:
    """Bytes that new processes may take: MemAvailable, or less when this process's cgroup has
    a lower memory limit left; None when neither is known."""
    figures: list[int] = []
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                figures.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (
        ("memory.max", "memory.current"),
        ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes"),
    ):
        try:
            limit = (root / limit_file).read_text().strip()
            usage = int((root / usage_file).read_text())
        except (OSError, ValueError):
            continue
        # v1 says "no limit" with a huge number, v2 with "max".
        if limit.isdigit() and int(limit) < 1 << 60:
            figures.append(max(0, int(limit) - usage))
    return min(figures) if figures else None


def worker_memory(gguf: Path, n_ctx: int) -> int:
    """Bytes one worker of this model needs: the weights, a KV cache of n_ctx tokens (as large as
    the weights when the file's header does not say) and the process."""
    size = gguf.stat().st_size
    per_token = kv_bytes_per_token(gguf)
    kv = per_token * n_ctx if per_token is not None else size
    return size + kv + PROCESS_BYTES


def kv_bytes_per_token(gguf: Path) -> int | None:
    """The KV cache's bytes per context token, from the GGUF header (layers, KV heads, head
    sizes); None when the file is not a GGUF file this reader understands."""
    try:
        with gguf.open("rb") as file:
            meta = _header(file.read(_MAX_HEADER))
    except (OSError, ValueError, struct.error):
        return None
    arch = meta.get("general.architecture")
    if not isinstance(arch, str):
        return None
    layers = meta.get(f"{arch}.block_count")
    embedding = meta.get(f"{arch}.embedding_length")
    heads = meta.get(f"{arch}.attention.head_count")
    if not all(isinstance(v, int) and v > 0 for v in (layers, embedding, heads)):
        return None
    assert isinstance(layers, int) and isinstance(embedding, int) and isinstance(heads, int)
    kv_heads = meta.get(f"{arch}.attention.head_count_kv", heads)
    key = meta.get(f"{arch}.attention.key_length", embedding // heads)
    value = meta.get(f"{arch}.attention.value_length", embedding // heads)
    if not all(isinstance(v, int) and v > 0 for v in (kv_heads, key, value)):
        return None
    assert isinstance(kv_heads, int) and isinstance(key, int) and isinstance(value, int)
    return layers * kv_heads * (key + value) * KV_BYTES_PER_VALUE


def _header(data: bytes) -> dict[str, str | int]:
    """The GGUF header's string and integer values (other values skipped); ValueError or
    struct.error when `data` is not the start of a GGUF file or its header is out of bounds."""
    if data[:4] != b"GGUF":
        raise ValueError("not a GGUF file")
    version, _tensors, keys = struct.unpack_from("<IQQ", data, 4)
    if version < 2 or keys > _MAX_KEYS:
        raise ValueError("a GGUF header this reader does not take")
    meta: dict[str, str | int] = {}
    at = 24
    for _ in range(keys):
        name, at = _string(data, at)
        (kind,) = struct.unpack_from("<I", data, at)
        at += 4
        if kind == 8:
            meta[name], at = _string(data, at)
        elif kind in _UNPACK:
            (meta[name],) = struct.unpack_from(_UNPACK[kind], data, at)
            at += _FIXED[kind]
        else:
            at = _skip(data, at, kind)
    return meta


def _string(data: bytes, at: int) -> tuple[str, int]:
    """The string at `at` and where the next value begins."""
    (length,) = struct.unpack_from("<Q", data, at)
    if length > _MAX_STRING or at + 8 + length > len(data):
        raise ValueError("a header string out of bounds")
    return data[at + 8 : at + 8 + length].decode("utf-8", "replace"), at + 8 + length


def _skip(data: bytes, at: int, kind: int) -> int:
    """Where the next value begins after the value of type `kind` at `at`."""
    if kind in _FIXED:
        return at + _FIXED[kind]
    if kind == 8:
        (length,) = struct.unpack_from("<Q", data, at)
        return at + 8 + int(length)
    if kind != 9:
        raise ValueError(f"unknown GGUF value type {kind}")
    item, count = struct.unpack_from("<IQ", data, at)
    at += 12
    if item in _FIXED:
        return at + _FIXED[item] * int(count)
    if count > len(data):  # every element takes at least a byte
        raise ValueError("a header array out of bounds")
    for _ in range(count):
        at = _skip(data, at, item)
        if at > len(data):
            raise ValueError("a header array out of bounds")
    return at


def default_workers(needs: Iterable[int]) -> WorkerCount:
    """One worker per physical core, as long as every embedded role can have that many: `needs`
    holds one worker's bytes for each role the embedded model plays (workers.py starts that many
    processes for each)."""
    cores = physical_cores()
    per_count = sum(needs)
    if cores == 1:
        return WorkerCount(1, "1 physical core")
    available = available_memory()
    if available is None or per_count == 0:
        return WorkerCount(cores, "one per physical core")
    fits = int(available * MEMORY_SHARE) // per_count
    if fits >= cores:
        return WorkerCount(cores, "one per physical core")
    count = max(1, fits)
    return WorkerCount(
        count,
        f"{cores} physical cores, capped by memory: {_mb(available)} available, "
        f"about {_mb(per_count)} a worker",
    )


def _mb(size: int) -> str:
    return f"{size / (1 << 20):.0f} MB"
