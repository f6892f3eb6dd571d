"""The episode player: a recorded episode's frames, searches and values, step by step."""

import numpy as np
import pytest
import torch

from ezv2_lite.config import override
from ezv2_lite.envs import probe_spec
from ezv2_lite.model import build_model
from ezv2_lite.presets import preset
from viz.episode import (
    discounted_returns,
    episode_player,
    record_episode,
    root_figure,
    values_figure,
)
from viz.tree import fit_svg, tree_graph


def test_discounted_returns_add_each_reward_discounted_by_its_distance():
    assert np.allclose(discounted_returns(np.array([1.0, 1.0, 1.0]), 0.5), [1.75, 1.5, 1.0])
    assert np.allclose(discounted_returns(np.array([0.0, 0.0, 8.0]), 0.5), [2.0, 4.0, 8.0])


@pytest.fixture(scope="module")
def agent():
    config = override(preset("cartpole"), search=dict(num_simulations=4))
    torch.manual_seed(0)
    return config, build_model(config, probe_spec(config.env, 0)).eval()


@pytest.fixture(scope="module")
def episode(agent):
    config, model = agent
    return config, record_episode(model, config, seed=0, progress=False)


def test_discounted_returns_of_an_episode_cut_short_continue_from_the_bootstrap():
    assert np.allclose(discounted_returns(np.array([1.0, 1.0]), 0.5, bootstrap=4.0), [2.5, 3.0])


def test_max_steps_keeps_the_episodes_first_steps(agent, episode):
    (config, model), (_, steps) = agent, episode
    first = record_episode(model, config, seed=0, progress=False, max_steps=3)
    assert [s.t for s in first] == [0, 1, 2]
    assert [s.action for s in first] == [s.action for s in steps[:3]]
    assert all(np.array_equal(a.frame, b.frame) for a, b in zip(first, steps[:3], strict=True))
    # the cut is completed with the value of the observation step 2 reached: step 3's
    assert (
        first[-1].value_after == pytest.approx(steps[3].network_value)
        and steps[-1].value_after is None
    )
    truth = values_figure(first, 0.5).data[0]
    assert truth.y[-1] == pytest.approx(first[-1].reward + 0.5 * steps[3].network_value)
    assert "after step 2: v's estimate" in truth.name
    with pytest.raises(ValueError, match="max_steps must be at least 1"):
        record_episode(model, config, seed=0, progress=False, max_steps=0)


def test_values_figure_draws_the_truth_and_both_predictions_with_the_current_step_marked(episode):
    config, steps = episode
    figure = values_figure(steps, 0.5, current=2)
    truth, network, search = figure.data
    assert len(truth.x) == len(steps) and truth.y[-1] == steps[-1].reward
    assert np.allclose(network.y, [s.network_value for s in steps])
    assert np.allclose(search.y, [s.root_value for s in steps])
    assert figure.layout.shapes[0].x0 == 2
    assert figure.layout.xaxis.title.text and figure.layout.yaxis.title.text


def test_the_player_follows_its_slider_to_each_steps_frame_and_tree(episode):
    config, steps = episode
    assert len(steps) >= 3
    view = episode_player(steps, config.agent_discount)
    controls, caption, top, tree, values = view.children
    slider = controls.children[1]
    frame = top.children[0]
    first = bytes(frame.value)
    assert caption.value.count("step 0:") == 1 and "<svg" in tree.value
    last = len(steps) - 1  # (the pole has fallen: a frame unlike the first)
    slider.value = last
    assert f"step {last}:" in caption.value and "the episode ends here" in caption.value
    assert bytes(frame.value) != first and first[:4] == b"\x89PNG"
    # its search
    assert tree.value == fit_svg(tree_graph(steps[last].trace).pipe(format="svg").decode())
    assert root_figure(steps[2]).data[0].name == "prior π"  # discrete: the policy bars


def test_the_episode_video_is_an_inline_mp4_of_every_step(episode):
    import base64

    import imageio.v3 as iio

    from viz.episode import episode_video

    config, steps = episode
    html = episode_video(steps, config)._repr_html_()
    assert "<video" in html and "controls" in html and 'type="video/mp4"' in html
    data = base64.b64decode(html.split("base64,")[1].split('"')[0])
    assert iio.imread(data, index=None, extension=".mp4").shape[0] == len(steps)
