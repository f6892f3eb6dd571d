"""The training dashboard on a recorded list of training events."""

import numpy as np

from ezv2_lite.config import override
from ezv2_lite.model.toy import BanditModel
from ezv2_lite.presets import preset
from ezv2_lite.search import search
from ezv2_lite.train import TrainEvent
from viz.dashboard import TrainingDashboard


def recorded_events():
    trace = search(
        BanditModel(rewards=[0.2, 0.8]),
        np.zeros((1, 1), np.float32),
        override(preset("cartpole"), search=dict(num_simulations=4, num_top_actions=2)),
        "act",
        np.random.default_rng(0),
        trace_root=0,
    ).trace
    loss = dict(
        total=3.0,
        value=1.0,
        reward=0.5,
        policy=0.7,
        consistency=0.2,
        entropy=0.0,
        lr=1e-3,
        value_by_step=[0.5, 0.1, 0.1, 0.1, 0.1, 0.1],
        reward_by_step=[0.1] * 5,
        root_policy_entropy=0.6,
        unvisited_target_mass=0.25,
        sve_fraction=0.0,
    )
    return [
        TrainEvent(
            "metrics",
            dict(
                env_steps=20,
                train_steps=0,
                wall_s=1.0,
                train_episode_return=20.0,
                train_episode_length=20,
            ),
        ),
        TrainEvent("search", dict(trace=trace, env_steps=24)),
        TrainEvent("frame", dict(observation=np.array([0.1, -0.2, 0.3, 0.0]), env_steps=24)),
        TrainEvent("metrics", dict(env_steps=200, train_steps=150, wall_s=5.0, **loss)),
        TrainEvent(
            "metrics", dict(env_steps=400, train_steps=350, wall_s=9.0, **{**loss, "total": 2.0})
        ),
        TrainEvent(
            "eval",
            dict(
                env_steps=400,
                train_steps=350,
                wall_s=10.0,
                eval_return_mean=120.0,
                eval_return_std=15.0,
                eval_episodes=10,
            ),
        ),
        # too soon
        TrainEvent("frame", dict(observation=np.zeros((12, 8, 8), np.uint8), env_steps=30)),
    ]


def test_dashboard_draws_a_recorded_run():
    dashboard = TrainingDashboard(refresh_env_steps=100, redraw_every_s=0)
    for event in recorded_events():
        dashboard(event)
    episodes, evaluation = dashboard.curve.data
    assert episodes.x == (20,) and episodes.y == (20.0,)
    assert (
        evaluation.x == (400,) and evaluation.y == (120.0,) and evaluation.error_y.array == (15.0,)
    )
    names = [trace.name for trace in dashboard.losses.data]
    assert names == ["value", "reward", "policy", "consistency"]
    assert dashboard.losses.data[0].x == (150, 350) and dashboard.losses.data[2].y == (0.7, 0.7)
    assert "120.0" in dashboard.status.value
    sigma, entropy, unvisited, sve = dashboard.diagnostics.data
    assert sigma.x is None and entropy.y == (0.6, 0.6) and unvisited.y == (0.25, 0.25)
    assert sve.x == (150, 350) and sve.y == (0.0, 0.0)
    value, reward = dashboard.by_step.data
    assert list(value.x) == [0, 1, 2, 3, 4, 5] and list(value.y) == [0.5, 0.1, 0.1, 0.1, 0.1, 0.1]
    assert list(reward.x) == [1, 2, 3, 4, 5]
    assert "<svg" in dashboard.tree.value and dashboard.tree.value.count('class="node"') == 5
    # a state the environment does not draw is shown as bars; the image came too soon after it
    assert len(dashboard.observation.data) == 1 and dashboard.observation.data[0].type == "bar"
    np.testing.assert_allclose(dashboard.observation.data[0].y, [0.1, -0.2, 0.3, 0.0])
    assert dashboard.frame.value == b""
    # every chart's output area holds the whole figure (what a reloaded page draws again)
    for name, figure in dashboard.figures.items():
        (output,) = dashboard.views[name].outputs
        shown = output["data"]["application/vnd.plotly.v1+json"]
        assert [trace.get("y") for trace in shown["data"]] == [
            list(trace.y) if trace.y is not None else None for trace in figure.data
        ], name
    assert shown["layout"]["xaxis"]["title"]["text"] and shown["layout"]["yaxis"]["title"]["text"]


def png_pixels(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_the_environment_is_shown_as_its_rendered_frame():
    frame = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    dashboard = TrainingDashboard(refresh_env_steps=1)
    dashboard(TrainEvent("frame", dict(observation=np.zeros(4), render=lambda: frame, env_steps=5)))
    np.testing.assert_array_equal(png_pixels(dashboard.frame.value), frame)
    assert dashboard.observation.data == ()  # the frame instead of the bars


def test_images_without_a_renderer_are_shown_as_their_newest_rgb_frame():
    dashboard = TrainingDashboard(refresh_env_steps=1)
    obs = np.zeros((12, 8, 8), np.uint8)
    obs[-3:] = 200
    dashboard(TrainEvent("frame", dict(observation=obs, env_steps=5)))
    pixels = png_pixels(dashboard.frame.value)
    assert pixels.shape == (8, 8, 3) and pixels.min() == 200


def test_progress_and_the_time_left_follow_the_learner_steps():
    """Learner steps take the time: 200 of them ran in 4 s (50 a second), 210 for the first 400 env
    steps, so the 600 env steps left bring 315 more: about 6 s left."""
    dashboard = TrainingDashboard(total_env_steps=1000, redraw_every_s=0)
    loss = recorded_events()[3].data
    dashboard(TrainEvent("metrics", {**loss, "env_steps": 200, "train_steps": 10, "wall_s": 1.0}))
    assert dashboard.progress.value == 0.2 and "200</b> of 1,000 (20%)" in dashboard.status.value
    dashboard(TrainEvent("metrics", {**loss, "env_steps": 400, "train_steps": 210, "wall_s": 5.0}))
    assert "about 6 s left" in dashboard.status.value
    assert list(dashboard.curve.layout.xaxis.range) == [-20, 1020]  # the budget, however few points
    dashboard(
        TrainEvent(
            "eval",
            dict(
                env_steps=400,
                train_steps=210,
                wall_s=6.0,
                eval_return_mean=9.0,
                eval_return_std=0.0,
                eval_episodes=1,
            ),
        )
    )
    assert "over 1 episode" in dashboard.status.value and "episodes" not in dashboard.status.value


def test_a_run_training_elsewhere_is_drawn_from_its_metrics_as_they_grow(tmp_path):
    import json

    rows = [e.data for e in recorded_events() if e.kind in ("metrics", "eval")]
    dashboard = TrainingDashboard(total_env_steps=1000, redraw_every_s=0)
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:2]))
    assert dashboard.catch_up(tmp_path) == 2 and dashboard.curve.data[0].y == (20.0,)
    with (tmp_path / "metrics.jsonl").open("a") as file:
        file.write("".join(json.dumps(r) + "\n" for r in rows[2:]))
    assert dashboard.catch_up(tmp_path) == 2  # only the new lines: nothing drawn twice
    assert dashboard.losses.data[0].x == (150, 350) and dashboard.curve.data[1].y == (120.0,)
    assert dashboard.catch_up(tmp_path) == 0


def test_reference_returns_are_dashed_lines_named_with_their_values():
    dashboard = TrainingDashboard(
        redraw_every_s=0, references={"random policy": -7.2, "maximum": 10}
    )
    lines = [shape for shape in dashboard.curve.layout.shapes]
    assert [(line.y0, line.y1, line.line.dash) for line in lines] == [
        (-7.2, -7.2, "dash"),
        (10, 10, "dash"),
    ]
    labels = [note.text for note in dashboard.curve.layout.annotations]
    assert labels == ["random policy (-7.2)", "maximum (10)"]
