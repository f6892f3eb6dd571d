"""Image augmentation: random shift (pad 4, edge repeated) and intensity (docs/algorithm.md §5)."""

import numpy as np
import torch

from ezv2_lite.augment import augment, random_intensity, random_shift


def _shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Independent reference: pad by repeating the edge, crop at offset (4 + dy, 4 + dx)."""
    padded = np.pad(image, ((0, 0), (4, 4), (4, 4)), mode="edge")
    h, w = image.shape[1:]
    return padded[:, 4 + dy : 4 + dy + h, 4 + dx : 4 + dx + w]


def test_shift_moves_each_image_by_at_most_4_pixels_and_keeps_shape_and_dtype():
    rng = np.random.default_rng(0)
    images = torch.as_tensor(rng.integers(0, 256, (64, 12, 20, 24), dtype=np.uint8))
    out = random_shift(images, generator=torch.Generator().manual_seed(1))
    assert out.shape == images.shape and out.dtype == torch.uint8
    seen = set()
    for before, after in zip(images.numpy(), out.numpy(), strict=True):
        matches = [
            (dy, dx)
            for dy in range(-4, 5)
            for dx in range(-4, 5)
            if np.array_equal(_shifted(before, dy, dx), after)
        ]
        assert len(matches) == 1, "every output is exactly one shift of its input"
        seen.add(matches[0])
    assert len(seen) > 20, "the 64 images get different shifts"


def test_a_lone_bright_pixel_moves_at_most_4_pixels_along_each_axis():
    images = torch.zeros(200, 3, 32, 32, dtype=torch.uint8)
    images[:, :, 16, 16] = 255
    out = random_shift(images, generator=torch.Generator().manual_seed(0))
    ys, xs = np.nonzero(out[:, 0].numpy().reshape(200, 32, 32).max(0))
    assert ys.min() >= 12 and ys.max() <= 20 and xs.min() >= 12 and xs.max() <= 20
    moved = out[:, 0].flatten(1).argmax(1)
    dy, dx = moved // 32 - 16, moved % 32 - 16
    assert dy.abs().max() == 4 and dx.abs().max() == 4  # the full range is used


def test_float_images_keep_their_dtype():
    images = torch.rand(4, 6, 16, 16)
    assert random_shift(images).dtype == torch.float32


def test_intensity_scales_each_image_by_a_factor_between_0_9_and_1_1():
    images = torch.ones(1000, 3, 8, 8)
    out = random_intensity(images, generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.float32
    factors = out.flatten(1)
    assert torch.all(factors == factors[:, :1]), "one factor per image"
    f = factors[:, 0]
    assert f.min() >= 0.9 - 1e-6 and f.max() <= 1.1 + 1e-6
    # N(0, 1) clipped at 2 sd
    assert abs(float(f.mean()) - 1) < 0.01 and 0.04 < float(f.std()) < 0.05


def test_augment_returns_unit_scaled_floats_of_the_same_shape():
    images = torch.full((8, 12, 64, 64), 255, dtype=torch.uint8)
    out = augment(images)
    assert out.shape == images.shape and out.dtype == torch.float32
    assert float(out.min()) >= 0.9 - 1e-6 and float(out.max()) <= 1.1 + 1e-6


def test_a_shift_pad_of_zero_keeps_every_pixel_in_place():
    """MinAtar's boards are not shifted: each image is only scaled by its intensity factor."""
    images = torch.randint(0, 2, (16, 4, 10, 10), dtype=torch.uint8) * 255
    out = augment(images, pad=0, generator=torch.Generator().manual_seed(0))
    factors = out.flatten(1).max(1).values
    torch.testing.assert_close(out, images.float() / 255 * factors[:, None, None, None])
    shifted = augment(images, pad=1, generator=torch.Generator().manual_seed(0))
    assert not torch.equal((shifted > 0), (out > 0))  # a pad of 1 moves some boards


def test_the_learner_augments_roots_and_consistency_targets_independently(monkeypatch):
    """With augmentation on, the learner calls augment twice per step: roots, then targets."""
    from ezv2_lite import learner
    from ezv2_lite.config import override
    from ezv2_lite.model.networks import build_model
    from ezv2_lite.presets import preset
    from ezv2_lite.replay import random_policy_replay
    from ezv2_lite.targets import reanalyze

    config = override(
        preset("dmc_image_small"), optim=dict(batch_size=4), train=dict(start_transitions=4)
    ).resolved()
    replay, spec = random_policy_replay(config, 30, seed=0)
    model = build_model(config, spec)
    calls = []
    real = learner.augment
    monkeypatch.setattr(
        learner, "augment", lambda x, pad: calls.append(tuple(x.shape)) or real(x, pad)
    )
    batch = replay.sample(4)
    targets = reanalyze(replay, batch, model, config, 0, np.random.default_rng(0))
    learner.compute_loss(model, batch, targets, config, torch.device("cpu"))
    c, h, w = spec.obs_shape
    U = config.optim.unroll_steps
    assert calls == [(4, c, h, w), (4, U * c, h, w)]


def test_augmentation_takes_the_same_number_of_operations_at_any_batch_size():
    """The whole batch is shifted and scaled at once: no loop over its images."""
    from torch.overrides import TorchFunctionMode

    class Count(TorchFunctionMode):
        calls = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            Count.calls += 1
            return func(*args, **(kwargs or {}))

    counts = []
    for batch in (2, 64):
        images = torch.zeros(batch, 12, 16, 16, dtype=torch.uint8)
        Count.calls = 0
        with Count():
            augment(images, generator=torch.Generator().manual_seed(0))
        counts.append(Count.calls)
    assert counts[0] == counts[1] < 40, counts
