"""Image augmentation for the learner (paper §4; docs/algorithm.md §5, §5.1).

Learning from pixels with ~100k frames overfits easily; EZ-V2 (like EfficientZero
and DrQ) perturbs every image the learner sees with two cheap transforms:

- random shift: pad the image by 4 pixels on each side by repeating its edge,
  then crop back to the original size at a random offset, i.e. translate it by
  a whole number of pixels dy, dx in [-4, 4] (`optim.shift_pad`: 4 as released, less
  for small frames, 0 for MinAtar's grids of game cells);
- intensity: multiply all pixels by 1 + 0.05 * clip(N(0, 1), -2, 2), i.e. make the
  image between 10 % darker and 10 % brighter.

Each image in the batch gets its own draw. The learner augments the roots it
unrolls from and, with a separate draw, the later observations whose projections
are the consistency targets (docs/algorithm.md §5.1). Search, acting and targets never see
augmented images.

Shapes: images [B, C, H, W]; `augment` returns float32 images scaled to [0, 1]
(times the intensity factor).
"""

from __future__ import annotations

import torch

SHIFT_PAD = 4
"""Largest translation in pixels, along each axis."""
INTENSITY_SCALE = 0.05
"""Standard deviation of the intensity factor around 1 (clipped to 2 standard deviations)."""


def random_shift(
    images: torch.Tensor, pad: int = SHIFT_PAD, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Translate each image [B, C, H, W] by its own integer (dy, dx) in [-pad, pad], filling
    the uncovered border with the edge pixels. Same shape and dtype as the input.

    Shifting by (dy, dx) and repeating the edge = reading row r + dy, column c + dx,
    clamped to the image: each output pixel reads one source pixel, one gather for the whole
    batch, no padded copy.
    """
    b, c, h, w = images.shape
    device = images.device
    shifts = torch.randint(-pad, pad + 1, (b, 2), generator=generator).to(device)  # [B, 2] (dy, dx)
    rows = (torch.arange(h, device=device) + shifts[:, :1]).clamp(0, h - 1)  # [B, H]
    cols = (torch.arange(w, device=device) + shifts[:, 1:]).clamp(0, w - 1)  # [B, W]
    source = (rows[:, :, None] * w + cols[:, None, :]).flatten(1)  # [B, H*W]
    return images.flatten(2).gather(2, source[:, None].expand(b, c, h * w)).view(b, c, h, w)


def random_intensity(
    images: torch.Tensor, scale: float = INTENSITY_SCALE, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Multiply each float image [B, C, H, W] by 1 + scale * clip(N(0, 1), -2, 2)."""
    noise = torch.randn(images.shape[0], 1, 1, 1, generator=generator, device="cpu").to(
        images.device
    )
    return images * (1.0 + scale * noise.clamp(-2.0, 2.0))


def augment(
    images: torch.Tensor, pad: int = SHIFT_PAD, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Random shift by up to `pad` pixels (`optim.shift_pad`; 0: none) then intensity: uint8 (or [0, 1]
    float) [B, C, H, W] -> float32 [B, C, H, W]."""
    x = random_shift(images, pad, generator=generator) if pad > 0 else images
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return random_intensity(x, generator=generator)
