"""The one device rule: which ``device`` values a run accepts and what they mean.

TrainConfig validation, the worker (which device a run queues for) and the training loop all call
:func:`select_device`, so a value one accepts the others accept too.
"""

from __future__ import annotations

from typing import Callable

from core.kernel.errors import ConfigError

#: What a user may write, for messages and forms.
DEVICE_CHOICES = "auto, cpu, cuda or cuda:N"


def select_device(spec: object, cuda_available: Callable[[], bool] | None = None) -> str:
    """The canonical device of ``spec``: ``"cpu"``, ``"cuda:<k>"``, or ``"auto"`` when left unresolved.

    Args:
        spec: ``auto``, ``cpu``, ``cuda`` (= ``cuda:0``) or ``cuda:<k>``; case and surrounding spaces ignored.
            Anything else (``mps``, an integer, ``gpu``) is refused: the studio trains on CUDA GPUs or the CPU.
        cuda_available: probe called for ``auto`` only (``torch.cuda.is_available``; the kernel never imports
            torch); ``None`` keeps ``"auto"`` as is (config validation).

    Returns:
        ``"cpu"``, ``"cuda:<k>"`` or (without a probe) ``"auto"``.

    Raises:
        ConfigError: ``E202`` naming the value and the valid ones.
    """
    text = spec.strip().lower() if isinstance(spec, str) else None
    if text == "auto":
        if cuda_available is None:
            return "auto"
        return "cuda:0" if cuda_available() else "cpu"
    if text == "cpu":
        return "cpu"
    if text == "cuda":
        return "cuda:0"
    if text is not None and text.startswith("cuda:") and text[5:].isdigit():
        return f"cuda:{int(text[5:])}"
    raise ConfigError("E202", f"device {spec!r} is not one of {DEVICE_CHOICES}", text=str(spec),
                      fix=f"device must be {DEVICE_CHOICES}.")
