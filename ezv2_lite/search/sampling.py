"""Sampled actions for continuous control (paper §4.2; Part B §3.3-3.4).

A continuous action space has no list of children, so each node samples some:

- at the root, K = 16 actions: in `act` and `reanalyze` mode 4 from the
  policy tanh(N(mu, sigma)) and 12 from a *widened* policy tanh(N(mu, 3 sigma))
  that reaches further (exploration); in `evaluate` mode all 16 from the policy;
- below the root, 2 actions per node from that node's own policy.

All sampled actions get the same prior (logits 0) and are clipped to +-0.999.
Noise comes from a NumPy generator so that a seed fixes the samples on any device.
`mu` and `sigma` may be tensors or NumPy arrays; the samples are of the same kind.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import SearchConfig
from ..model.policy import squashed_sample


def _noise(rng: np.random.Generator, shape: tuple[int, ...], like: torch.Tensor | np.ndarray):
    noise = rng.standard_normal(shape).astype(np.float32)
    return noise if isinstance(like, np.ndarray) else torch.from_numpy(noise).to(like.device)


def root_std_multipliers(cfg: SearchConfig, mode: str) -> np.ndarray:
    """[K] multiplier of sigma for each root sample: 1 (policy) or std_magnification (widened)."""
    if mode == "evaluate":
        return np.ones(cfg.num_sampled_actions, np.float32)
    return np.array([1.0] * cfg.policy_samples + [cfg.std_magnification] * cfg.widened_samples,
                    np.float32)


def sample_root_actions(mu: torch.Tensor, sigma: torch.Tensor, cfg: SearchConfig, mode: str,
                        rng: np.random.Generator) -> torch.Tensor:
    """mu, sigma [B, A] -> K actions per root [B, K, A] (policy samples first, then widened)."""
    batch, dim = mu.shape
    scale = torch.from_numpy(root_std_multipliers(cfg, mode)).to(mu.device).view(1, -1, 1)
    noise = _noise(rng, (batch, cfg.num_sampled_actions, dim), mu)
    return squashed_sample(mu[:, None], sigma[:, None] * scale, noise)


def sample_children(mu: torch.Tensor, sigma: torch.Tensor, count: int,
                    rng: np.random.Generator) -> torch.Tensor:
    """mu, sigma [B, A] -> `count` actions per node from its own policy [B, count, A]."""
    batch, dim = mu.shape
    return squashed_sample(mu[:, None], sigma[:, None], _noise(rng, (batch, count, dim), mu))
