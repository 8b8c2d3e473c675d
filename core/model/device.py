"""What the studio will train on: the GPUs ``nvidia-smi`` reports, else the CPU.

The UI calls :func:`describe_device` on every Home page load, so it must be instant: it never imports torch
(importing torch costs seconds); it asks ``nvidia-smi`` (a few tens of milliseconds, cached for the process)
and falls back to the CPU core count. ``use_torch=True`` asks torch instead when ``nvidia-smi`` is missing
(only where torch is already loaded or seconds do not matter, e.g. the CLI).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

from core.kernel.devices import select_device

NVIDIA_SMI_QUERY = ["--query-gpu=name,memory.total", "--format=csv,noheader,nounits"]
NVIDIA_SMI_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Gpu:
    """One GPU: ``index`` (CUDA ordinal), ``name`` and total memory in MiB."""

    index: int
    name: str
    memory_mib: int

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024


@dataclass(frozen=True)
class DeviceInfo:
    """The machine's training devices.

    Attributes:
        gpus: GPUs found (empty on a CPU-only machine).
        cpu_cores: logical CPU cores usable by this process.
        source: where the GPU list came from: ``nvidia-smi``, ``torch`` or ``none``.
    """

    gpus: tuple[Gpu, ...] = field(default_factory=tuple)
    cpu_cores: int = 1
    source: str = "none"

    @property
    def kind(self) -> str:
        """``"gpu"`` when at least one GPU was found, else ``"cpu"``."""
        return "gpu" if self.gpus else "cpu"

    @property
    def text(self) -> str:
        """One line for people, e.g. ``NVIDIA H200 (140.4 GiB)`` or ``CPU: 2 cores``."""
        if not self.gpus:
            return f"CPU: {self.cpu_cores} core{'s' if self.cpu_cores != 1 else ''}"
        return ", ".join(f"{g.name} ({g.memory_gib:.1f} GiB)" for g in self.gpus)

    @property
    def choices(self) -> list[str]:
        """Values for ``TrainConfig.device``: ``auto``, ``cpu`` and ``cuda:<k>`` per GPU."""
        return ["auto", "cpu"] + [f"cuda:{g.index}" for g in self.gpus]


def cpu_cores() -> int:
    """Logical cores this process may use (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def parse_nvidia_smi(text: str) -> list[Gpu]:
    """GPUs from ``nvidia-smi --query-gpu=name,memory.total --format=csv,noheader[,nounits]`` output.

    Accepts memory as ``81559`` or ``81559 MiB``; lines that do not parse are skipped.
    """
    gpus: list[Gpu] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, _, mem = line.rpartition(",")
        mem = mem.strip().split()[0] if mem.strip() else ""
        try:
            mib = int(float(mem))
        except ValueError:
            continue
        gpus.append(Gpu(len(gpus), name.strip(), mib))
    return gpus


def _from_nvidia_smi() -> list[Gpu] | None:
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, *NVIDIA_SMI_QUERY], capture_output=True, text=True,
                             timeout=NVIDIA_SMI_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return parse_nvidia_smi(out.stdout)


def _from_torch() -> list[Gpu]:
    import torch  # lazily: seconds to import

    if not torch.cuda.is_available():
        return []
    return [Gpu(i, torch.cuda.get_device_name(i), torch.cuda.get_device_properties(i).total_memory // 2**20)
            for i in range(torch.cuda.device_count())]


_CACHE: dict[bool, DeviceInfo] = {}


def describe_device(use_torch: bool = False, *, refresh: bool = False) -> DeviceInfo:
    """The machine's GPUs (name, memory) or its CPU core count.

    Args:
        use_torch: when ``nvidia-smi`` is missing, ask torch (imported here, lazily). Without it the answer
            is ``nvidia-smi``'s or the CPU; torch is also asked when it is already imported.
        refresh: ignore the per-process cache.

    Returns:
        A :class:`DeviceInfo`; never raises.
    """
    if not refresh and use_torch in _CACHE:
        return _CACHE[use_torch]
    gpus = _from_nvidia_smi()
    source = "nvidia-smi" if gpus else "none"
    if not gpus and (use_torch or "torch" in sys.modules):
        try:
            gpus = _from_torch()
            source = "torch" if gpus else "none"
        except Exception as exc:  # noqa: BLE001 - a broken CUDA setup must not break the Home page
            print(f"describe_device: torch could not list GPUs: {exc}", file=sys.stderr)
            gpus = []
    info = DeviceInfo(tuple(gpus or ()), cpu_cores(), source)
    _CACHE[use_torch] = info
    return info


def pick_device(requested: str = "auto") -> str:
    """``cpu`` or ``cuda:N`` by :func:`core.kernel.devices.select_device` (the one device rule), asking torch
    for ``auto``.

    Raises:
        ConfigError: E202 for a value the rule refuses.
    """
    import torch

    return select_device(requested, torch.cuda.is_available)


def cpu_has_bf16() -> bool:
    """True when the CPU multiplies bf16 natively (``avx512_bf16`` or ``amx_bf16`` in /proc/cpuinfo: Zen 4+,
    Sapphire Rapids+). On such CPUs bf16 autocast made a multilingual-e5-small training step 1.75x faster
    (0.34 s against 0.59 s for 16 x 48 subwords, 2 threads); elsewhere bf16 is emulated and slower."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool({"avx512_bf16", "amx_bf16"} & flags)
    except OSError as exc:  # not Linux: no way to tell, stay in fp32
        print(f"cannot read /proc/cpuinfo ({exc}); CPU bf16 disabled")
    return False


def use_bf16(precision: str, device: str) -> bool:
    """Whether to run forward passes under bf16 autocast (weights, gradients and AdamW stay fp32).

    ``auto``: on a GPU that supports bf16, and on a CPU with native bf16 instructions (:func:`cpu_has_bf16`);
    ``fp32`` never; ``bf16`` always.
    """
    import torch

    if precision == "fp32":
        return False
    if precision == "bf16":
        return True
    if device.startswith("cuda"):
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()
