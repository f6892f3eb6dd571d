"""The pixels views on small fixed inputs (viz/pixels.py)."""

import numpy as np

from viz.pixels import augmentations_figure, frame_stack_figure, value_prefix_figure


def _stack():
    """4 frames of 8x8 RGB; frame k is filled with 10 * (k + 1) in red, 0 elsewhere."""
    obs = np.zeros((12, 8, 8), np.uint8)
    for k in range(4):
        obs[3 * k] = 10 * (k + 1)
    return obs


def test_a_frame_stack_is_drawn_as_its_frames_oldest_first():
    fig = frame_stack_figure(_stack())
    assert [t.type for t in fig.data] == ["image"] * 4
    for k, trace in enumerate(fig.data):
        z = np.asarray(trace.z)
        assert z.shape == (8, 8, 3)
        assert np.all(z[..., 0] == 10 * (k + 1)) and np.all(z[..., 1:] == 0)
    assert [a.text for a in fig.layout.annotations] == ["t-3", "t-2", "t-1", "t"]


def test_augmentations_show_the_newest_frame_then_shifted_brightened_copies():
    obs = np.zeros((12, 16, 16), np.uint8)
    obs[9:12, 8, 8] = 200  # one grey pixel in the newest frame
    fig = augmentations_figure(obs, count=3, seed=0)
    images = [np.asarray(t.z) for t in fig.data]
    assert len(images) == 4 and all(z.shape == (16, 16, 3) for z in images)
    assert np.array_equal(images[0][..., 0], obs[9])
    for z in images[1:]:
        ys, xs = np.nonzero(z[..., 0])
        assert len(ys) == 1 and abs(ys[0] - 8) <= 4 and abs(xs[0] - 8) <= 4
        assert 180 <= z[ys[0], xs[0], 0] <= 220  # 200 x (1 +- 10 %)


def test_value_prefix_view_draws_rewards_the_reset_running_sum_and_the_prediction():
    rewards = np.array([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    predicted = np.array([0.9, 1.1, 2.0, 2.8, 3.1, 1.0, 2.2])
    fig = value_prefix_figure(rewards, predicted, horizon=5)
    bars, truth, prediction = fig.data
    assert list(bars.y) == list(rewards)
    assert list(truth.y) == [1, 1, 2, 3, 3, 1, 2]  # reset before step 6
    assert list(prediction.y) == list(predicted)
    assert [shape.x0 for shape in fig.layout.shapes] == [5.5]
