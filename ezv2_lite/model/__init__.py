"""The learned model of EfficientZero V2: networks, categorical supports, policy distributions."""

from __future__ import annotations

import torch

from .networks import EZModel, ImageModel, ModelOutput, StateModel, build_model, lstm_restarts_after
from .support import Support, h, h_inv

__all__ = ["EZModel", "ImageModel", "ModelOutput", "StateModel", "Support", "build_model", "h",
           "lstm_restarts_after",
           "h_inv", "resolve_device"]


def resolve_device(name: str = "auto") -> torch.device:
    """`auto` -> CUDA when available, else CPU; `cuda` without a GPU raises a clear error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' but PyTorch sees no CUDA GPU; use device='auto' or 'cpu'")
    return torch.device(name)
