"""Whether the accelerator ``params.yaml`` asks for is present on this machine.

``benchmark.config`` checks only that the name is one Lightning knows: a params file is valid
on a laptop and on a GPU server alike. Presence is checked here, before a trainer is built (and
by a stage before it writes anything), because Lightning's own complaint is a traceback from deep
inside ``Trainer``.
"""

from __future__ import annotations

from benchmark.config import PARAMS_FILE, ConfigError


def require_accelerator(accelerator: str, devices: int, key: str) -> None:
    """Raise :class:`ConfigError` naming ``<key>.accelerator`` when fewer than ``devices``
    devices of that kind are visible; ``cpu`` and ``auto`` always run.
    """
    import torch

    if accelerator in ("gpu", "cuda"):
        found = torch.cuda.device_count()
    elif accelerator == "mps":
        found = int(torch.backends.mps.is_available())
    else:
        return
    if found < devices:
        raise ConfigError(f"{PARAMS_FILE}: {key}.accelerator: got {accelerator!r} with "
                          f"{key}.devices = {devices}, but this machine has {found} such "
                          "device(s); expected 'cpu' or 'auto' here")
