"""The default --workers: physical cores (topology, affinity, cgroup quota), available memory,
one worker's memory from the GGUF header, and the count they give."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from turnscope.models import machine
from turnscope.models.machine import (
    PROCESS_BYTES,
    available_memory,
    cgroup_cpu_quota,
    default_workers,
    kv_bytes_per_token,
    physical_cores,
    worker_memory,
)

MB = 1 << 20


def fake_topology(root: Path, cores: dict[int, tuple[int, int]]) -> Path:
    """A /sys/devices/system/cpu with cpuN -> (package, core)."""
    for cpu, (package, core) in cores.items():
        topology = root / f"cpu{cpu}" / "topology"
        topology.mkdir(parents=True)
        (topology / "physical_package_id").write_text(f"{package}\n")
        (topology / "core_id").write_text(f"{core}\n")
    return root


def test_hyper_threads_of_one_core_count_once(tmp_path: Path) -> None:
    # Two packages of two cores, each core with two hyper-threads.
    sys_cpu = fake_topology(tmp_path / "cpu", {cpu: (cpu // 4, cpu % 2) for cpu in range(8)})
    no_cgroup = tmp_path / "cgroup"
    assert physical_cores(range(8), sys_cpu, no_cgroup) == 4
    # The affinity mask leaves two threads of one core: one core.
    assert physical_cores([0, 2], sys_cpu, no_cgroup) == 1
    # No topology at all: each CPU is a core.
    assert physical_cores([0, 1, 2], tmp_path / "none", no_cgroup) == 3


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
        ({"cpu.max": "garbage"}, None),
    ],
)
def test_cgroup_cpu_quota(tmp_path: Path, files: dict[str, str], quota: float | None) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == quota


def test_a_cpu_quota_caps_the_cores(tmp_path: Path) -> None:
    sys_cpu = fake_topology(tmp_path / "cpu", {cpu: (0, cpu) for cpu in range(4)})
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (cgroup / "cpu.max").write_text("150000 100000")
    assert physical_cores(range(4), sys_cpu, cgroup) == 2
    (cgroup / "cpu.max").write_text("20000 100000")
    assert physical_cores(range(4), sys_cpu, cgroup) == 1


def test_available_memory_takes_the_lower_of_meminfo_and_the_cgroup(tmp_path: Path) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 8000000 kB\nMemAvailable:    4000000 kB\n")
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    assert available_memory(meminfo, cgroup) == 4_000_000 * 1024
    (cgroup / "memory.max").write_text("max\n")
    (cgroup / "memory.current").write_text("1000\n")
    assert available_memory(meminfo, cgroup) == 4_000_000 * 1024
    (cgroup / "memory.max").write_text(f"{1 << 30}\n")
    (cgroup / "memory.current").write_text(f"{256 * MB}\n")
    assert available_memory(meminfo, cgroup) == (1 << 30) - 256 * MB
    assert available_memory(tmp_path / "none", tmp_path / "none") is None


def test_kv_cache_size_from_the_default_models_header(gguf_path: Path) -> None:
    # SmolLM2-135M: 30 layers, 3 KV heads of 64 dimensions, keys and values in 16 bits.
    assert kv_bytes_per_token(gguf_path) == 30 * 3 * (64 + 64) * 2
    expected = gguf_path.stat().st_size + 30 * 3 * 128 * 2 * 4096 + PROCESS_BYTES
    assert worker_memory(gguf_path, 4096) == expected


def gguf_header(*entries: bytes, keys: int | None = None) -> bytes:
    count = len(entries) if keys is None else keys
    return b"GGUF" + struct.pack("<IQQ", 3, 0, count) + b"".join(entries)


def text(value: str) -> bytes:
    return struct.pack("<Q", len(value.encode())) + value.encode()


def string_entry(key: str, value: str) -> bytes:
    return text(key) + struct.pack("<I", 8) + text(value)


def u32_entry(key: str, value: int) -> bytes:
    return text(key) + struct.pack("<II", 4, value)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not a gguf file at all",
        gguf_header(keys=10**9),  # more keys than any model has
        gguf_header(text("general.architecture") + struct.pack("<I", 8) + struct.pack("<Q", 2**62)),
        gguf_header(string_entry("general.architecture", "llama"), keys=3),  # cut short
        gguf_header(text("x") + struct.pack("<IIQ", 9, 8, 2**40)),  # an array beyond the file
        gguf_header(text("x") + struct.pack("<I", 77)),  # no such value type
        gguf_header(string_entry("general.architecture", "llama")),  # no layer counts
    ],
)
def test_a_hostile_or_foreign_header_gives_no_kv_size(tmp_path: Path, content: bytes) -> None:
    model = tmp_path / "model.gguf"
    model.write_bytes(content)
    assert kv_bytes_per_token(model) is None
    # The worker's estimate then takes the KV cache as large as the file.
    assert worker_memory(model, 4096) == 2 * len(content) + PROCESS_BYTES


def test_a_written_header_with_skipped_arrays(tmp_path: Path) -> None:
    tokens = struct.pack("<IQ", 8, 3) + text("a") + text("bb") + text("")
    model = tmp_path / "model.gguf"
    model.write_bytes(
        gguf_header(
            string_entry("general.architecture", "qwen2"),
            text("tokenizer.tokens") + struct.pack("<I", 9) + tokens,
            text("tokenizer.scores") + struct.pack("<IIQ", 9, 6, 2) + b"\0" * 8,
            u32_entry("qwen2.block_count", 24),
            u32_entry("qwen2.embedding_length", 896),
            u32_entry("qwen2.attention.head_count", 14),
            u32_entry("qwen2.attention.head_count_kv", 2),
        )
    )
    assert kv_bytes_per_token(model) == 24 * 2 * (64 + 64) * 2


def test_default_workers_one_per_core_capped_by_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(machine, "physical_cores", lambda: 4)
    monkeypatch.setattr(machine, "available_memory", lambda: 4000 * MB)
    assert default_workers([300 * MB]).count == 4
    assert default_workers([300 * MB]).reason == "one per physical core"
    # Two roles of 600 MB a worker each: 3000 MB of the 4000 hold 2 workers per role.
    capped = default_workers([600 * MB, 600 * MB])
    assert capped.count == 2
    assert "capped by memory: 4000 MB available, about 1200 MB a worker" in capped.reason
    assert default_workers([4000 * MB]).count == 1
    monkeypatch.setattr(machine, "available_memory", lambda: None)
    assert default_workers([4000 * MB]).count == 4
    monkeypatch.setattr(machine, "physical_cores", lambda: 1)
    assert default_workers([300 * MB]) == machine.WorkerCount(1, "1 physical core")
