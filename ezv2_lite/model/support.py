"""Categorical value and reward supports (docs/algorithm.md §1.1; MuZero's value transform).

Values and rewards are predicted as distributions over a fixed set of bins
laid out in a squashed space: x is transformed by

    h(x) = sign(x) (sqrt(|x| + 1) - 1) + eps x,          eps = 0.001,

and its transform is written as a *two-hot* vector: the weight is split
between the two bins that surround h(x), in proportion to how close each is.
A predicted distribution p decodes to x = h^-1(sum_i p_i b_i).

Two layouts (`SupportConfig.kind`):
- `integer` (Atari): bins at the integers -L..L of h-space (L = 300: 601 bins).
- `h_spaced` (DMC): `bins` bins evenly spaced between h(-L) and h(L)
  (values: L = 299, 51 bins, spacing 0.665; rewards: L = 2, spacing 0.029).
"""

from __future__ import annotations

import torch

from ..config import SupportConfig

EPS = 0.001


def h(x: torch.Tensor) -> torch.Tensor:
    """The value transform h(x) = sign(x)(sqrt(|x|+1) - 1) + 0.001 x (elementwise)."""
    return torch.sign(x) * (torch.sqrt(torch.abs(x) + 1) - 1) + EPS * x


def h_inv(y: torch.Tensor) -> torch.Tensor:
    """The exact inverse of h (elementwise).

    With t = sqrt(|x| + 1), h is the quadratic eps t^2 + t - (1 + eps) = |y|, so
    t = (sqrt(1 + 4 eps (|y| + 1 + eps)) - 1) / (2 eps) and x = sign(y)(t^2 - 1).

    The root is computed in its rationalised form 2c / (sqrt(1 + 4 eps c) + 1), c = |y| + 1 + eps,
    which avoids subtracting nearly equal numbers (accurate to ~1e-7 in float32 near 0).
    """
    c = torch.abs(y) + (1 + EPS)
    t = 2 * c / (torch.sqrt(4 * EPS * c + 1) + 1)
    return torch.copysign(t * t - 1, y)


class Support:
    """Bins of one support, with two-hot encoding and expectation decoding.

    `encode(x)`: [...] scalars -> [..., bins] two-hot targets.
    `decode(logits)`: [..., bins] logits -> [...] scalars.
    """

    def __init__(self, cfg: SupportConfig):
        self.cfg = cfg
        if cfg.kind == "integer":
            limit = int(cfg.limit)
            self.bins = torch.arange(-limit, limit + 1, dtype=torch.float64, device="cpu")
        else:
            top = float(h(torch.tensor(cfg.limit, dtype=torch.float64, device="cpu")))
            self.bins = torch.linspace(-top, top, cfg.bins, dtype=torch.float64, device="cpu")
        self.size = len(self.bins)
        self._float_bins: dict[torch.device, torch.Tensor] = {}  # float32 copies, per device
        self.low, self.high = float(self.bins[0]), float(self.bins[-1])
        self.spacing = (self.high - self.low) / (self.size - 1)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Two-hot targets of shape [..., bins] for scalars x of shape [...]."""
        y = h(x.double()).clamp(self.low, self.high)
        position = (y - self.low) / self.spacing  # fractional bin index
        lower = position.floor().clamp(max=self.size - 2)
        upper_weight = position - lower
        target = torch.zeros(*x.shape, self.size, dtype=torch.float64, device=x.device)
        target.scatter_(-1, lower.long().unsqueeze(-1), (1 - upper_weight).unsqueeze(-1))
        target.scatter_add_(-1, (lower.long() + 1).unsqueeze(-1), upper_weight.unsqueeze(-1))
        return target.to(x.dtype if x.is_floating_point() else torch.float32)

    def float_bins(self, device: torch.device) -> torch.Tensor:
        """The bins as float32 on `device` (copied once per device)."""
        if device not in self._float_bins:
            self._float_bins[device] = self.bins.to(device=device, dtype=torch.float32)
        return self._float_bins[device]

    def expectation(self, logits: torch.Tensor) -> torch.Tensor:
        """E_softmax(logits)[bins] of shape [...] (still in h-space) for logits [..., bins],
        in float32 on the logits' device."""
        return torch.softmax(logits.float(), dim=-1) @ self.float_bins(logits.device)

    def decode(self, logits: torch.Tensor) -> torch.Tensor:
        """Scalars h^-1(E_softmax(logits)[bins]) of shape [...] for logits of shape [..., bins]."""
        return h_inv(self.expectation(logits))

    def decode_probs(self, probs: torch.Tensor) -> torch.Tensor:
        """Scalars for probability vectors (e.g. two-hot targets) of shape [..., bins]."""
        bins = self.bins.to(device=probs.device, dtype=probs.dtype)
        return h_inv(probs @ bins)
