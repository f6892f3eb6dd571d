"""The learned model of EfficientZero V2: networks, categorical supports, policy distributions."""

from __future__ import annotations

import os

import torch

from .networks import EZModel, ImageModel, ModelOutput, StateModel, build_model, lstm_restarts_after
from .support import Support, h, h_inv

__all__ = [
    "EZModel",
    "ImageModel",
    "ModelOutput",
    "StateModel",
    "Support",
    "build_model",
    "h",
    "h_inv",
    "lstm_restarts_after",
    "resolve_device",
    "set_numerics",
]


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` -> CUDA when available, else CPU; `cuda` without a GPU raises a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but PyTorch sees no CUDA GPU; use device='auto' or 'cpu'")
    return torch.device(name)


def set_numerics(config, device: torch.device) -> None:
    """How the model computes, for a run's `config`: determinism and, on a GPU, the precision of
    float32 products (`runtime.deterministic`, `runtime.tf32`), for the whole process (the
    trainer and its reanalysis worker each call it); bfloat16 autocast is the learner's
    (`runtime.bf16_autocast`). Deterministic mode would also fill every new `torch.empty`
    with NaN to expose reads of uninitialised memory: a cost on every allocation that
    reproducibility does not need, switched off."""
    t = config.runtime
    # (a module property that torch's stubs miss)
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    if t.deterministic and device.type == "cuda":  # cuBLAS needs it for reproducible products
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(t.deterministic, warn_only=True)
    torch.backends.cudnn.deterministic = t.deterministic
    torch.backends.cudnn.benchmark = not t.deterministic
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = t.tf32
