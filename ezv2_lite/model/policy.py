"""Policy distributions (docs/algorithm.md §1.2, §3.3, §4.5).

Discrete actions: a categorical over logits.

Continuous actions: a *squashed Gaussian*. The policy head outputs a raw
mean and a raw scale per action dimension; they become

    mu    = 5 tanh(raw_mu / 5)                (a soft clamp to (-5, 5), pre-tanh)
    sigma = softplus(raw_sigma + 1) + 0.1     (at least 0.1; 1.41 at a zero-init head)

and an action is a = tanh(u) with u ~ Normal(mu, sigma). Its log-density
follows from the change of variables a = tanh(u):

    log pi(a) = sum_d [ log N(u_d; mu_d, sigma_d) - log(1 - tanh(u_d)^2) ],
    log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u))   (numerically stable).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

ACTION_CLIP = 0.999
"""Sampled actions are clipped to [-0.999, 0.999] so that atanh stays finite."""


def squash_params(raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[..., 2A] raw head output -> (mu [..., A], sigma [..., A])."""
    raw_mu, raw_sigma = raw.chunk(2, dim=-1)
    return 5 * torch.tanh(raw_mu / 5), F.softplus(raw_sigma + 1) + 0.1


def log_abs_det_tanh(u: torch.Tensor) -> torch.Tensor:
    """log |d tanh(u) / du| = log(1 - tanh(u)^2), stable for large |u|."""
    return 2 * (math.log(2) - u - F.softplus(-2 * u))


def squashed_log_prob(action: torch.Tensor, mu: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """log pi(a) summed over the action dimension: [..., A] -> [...]."""
    action = action.clamp(-ACTION_CLIP, ACTION_CLIP)
    u = torch.atanh(action)
    normal = torch.distributions.Normal(mu, sigma, validate_args=False)  # checking would read back
    return (normal.log_prob(u) - log_abs_det_tanh(u)).sum(-1)


def squashed_sample(mu: torch.Tensor, sigma: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """tanh(mu + sigma * noise), clipped to +-0.999; noise ~ N(0, 1) of the output's shape."""
    return torch.tanh(mu + sigma * noise).clip(-ACTION_CLIP, ACTION_CLIP)
