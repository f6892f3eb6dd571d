"""Sampled actions for continuous control (paper §4.2).

A continuous action space has no list of children, so each node samples some:

- at the root, K = 16 actions: in `act` and `reanalyze` mode 4 from the
  policy tanh(N(mu, sigma)) and 12 from a *widened* policy tanh(N(mu, 3 sigma))
  that reaches further (exploration); in `evaluate` mode all 16 from the policy;
- below the root, 2 actions per node from that node's own policy.

All sampled actions get the same prior (logits 0) and are clipped to +-0.999.
Noise comes from a NumPy generator, so that a seed fixes the samples on any device;
it is drawn in a few large blocks and copied to the device once per block.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import SearchConfig
from ..model.policy import squashed_sample


def standard_normal(
    rng: np.random.Generator, shape: tuple[int, ...], device: torch.device
) -> torch.Tensor:
    """N(0, 1) noise of `shape`, float32 on `device`, drawn from `rng` in C order."""
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32)).to(device)


def root_std_multipliers(cfg: SearchConfig, mode: str) -> list[float]:
    """The K multipliers of sigma, one per root sample: 1 (policy) or std_magnification (widened)."""
    if mode == "evaluate":
        return [1.0] * cfg.num_sampled_actions
    return [1.0] * cfg.policy_samples + [cfg.std_magnification] * cfg.widened_samples


def sample_root_actions(
    mu: torch.Tensor, sigma: torch.Tensor, cfg: SearchConfig, mode: str, rng: np.random.Generator
) -> torch.Tensor:
    """mu, sigma [B, A] -> K actions per root [B, K, A] (policy samples first, then widened)."""
    batch, dim = mu.shape
    scale = torch.tensor(root_std_multipliers(cfg, mode), device=mu.device).view(1, -1, 1)
    noise = standard_normal(rng, (batch, cfg.num_sampled_actions, dim), mu.device)
    return squashed_sample(mu[:, None], sigma[:, None] * scale, noise)


def sample_children(mu: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """mu, sigma [B, A] and noise [B, n, A] ~ N(0, 1) -> n actions per node from its own
    policy [B, n, A]."""
    return squashed_sample(mu[:, None], sigma[:, None], noise)
