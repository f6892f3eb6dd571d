"""Atari human-normalised scores and their aggregates (paper §6.1)."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ezv2_lite.evaluate import atari_reference, human_normalized, interquartile_mean
from ezv2_lite.tools.report import atari_table

REFERENCE = (
    Path(__file__).resolve().parents[1] / "ezv2_lite" / "data" / "atari100k_random_human.csv"
)


def test_the_26_games_random_scores_normalise_to_0_and_human_scores_to_1():
    rows = list(csv.DictReader(REFERENCE.open()))
    assert len(rows) == 26 and len(atari_reference()) == 26
    for row in rows:
        game = row["ale_id"][4:-3]
        assert human_normalized(game, float(row["random"])) == pytest.approx(0.0, abs=1e-12)
        assert human_normalized(row["ale_id"], float(row["human"])) == pytest.approx(1.0)


def test_pong_half_way_between_random_and_human_is_one_half():
    assert human_normalized("Pong", (-20.7 + 14.6) / 2) == pytest.approx(0.5)


def test_a_game_outside_the_benchmark_is_a_clear_error():
    with pytest.raises(ValueError, match="not one of the 26 Atari 100k games"):
        human_normalized("Tetris", 10.0)


def test_interquartile_mean_drops_the_lowest_and_highest_quarter():
    assert interquartile_mean([0, 1, 2, 3, 4, 5, 6, 100]) == pytest.approx(np.mean([2, 3, 4, 5]))
    assert interquartile_mean([1, 2, 3]) == pytest.approx(2.0)
    scipy = pytest.importorskip("scipy.stats")
    x = np.random.default_rng(0).normal(size=26)
    assert interquartile_mean(x) == pytest.approx(scipy.trim_mean(x, 0.25))


def _fake_atari_run(root: Path, name: str, game: str, final: float) -> Path:
    run = root / name
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"env": {"suite": "atari", "name": game}}))
    lines = [
        {
            "env_steps": 4000,
            "train_steps": 0,
            "wall_s": 1.0,
            "eval_return_mean": -21.0,
            "eval_return_std": 0.0,
            "eval_episodes": 2,
        },
        {
            "env_steps": 8000,
            "train_steps": 10,
            "wall_s": 2.0,
            "eval_return_mean": final,
            "eval_return_std": 0.0,
            "eval_episodes": 2,
        },
    ]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    return run


def test_the_atari_table_uses_each_runs_last_evaluation_and_aggregates(tmp_path):
    runs = [
        _fake_atari_run(tmp_path, "a", "Pong", -20.7),
        _fake_atari_run(tmp_path, "b", "Pong", 14.6),
        _fake_atari_run(tmp_path, "c", "Boxing", 6.1),
    ]
    table = atari_table(runs)
    assert "0.000" in table and "1.000" in table and "0.500" in table
    assert "mean 0.500, median 0.500, IQM 0.500" in table


def test_report_prints_the_atari_table_for_atari_runs(tmp_path):
    runs = [
        _fake_atari_run(tmp_path, "a", "Pong", -3.05),
        _fake_atari_run(tmp_path, "b", "Breakout", 30.5),
    ]
    out = subprocess.run(
        [sys.executable, "-m", "ezv2_lite.tools.cli", "report", *map(str, runs)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Pong" in out and "Breakout" in out and "mean 0.750, median 0.750, IQM 0.750" in out
    assert (
        out.count("evaluation: whole episodes capped at 27,000 agent steps (108,000 frames)") == 2
    )


def _png_size(path):
    header = Path(path).read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def test_the_report_draws_the_diagnostics_beside_the_curve_when_the_run_logged_them(tmp_path):
    from ezv2_lite.tools.report import write_learning_curve

    loss = dict(
        total=1.0,
        value=0.6,
        reward=0.5,
        policy=0.7,
        consistency=0.2,
        entropy=0.1,
        value_by_step=[0.1] * 6,
        reward_by_step=[0.1] * 5,
        root_policy_sigma=1.4,
        unvisited_target_mass=0.0,
        sve_fraction=0.3,
    )
    lines = [
        dict(env_steps=100, train_steps=50, wall_s=1.0, **loss),
        dict(env_steps=200, train_steps=150, wall_s=2.0, **loss),
        dict(
            env_steps=200,
            train_steps=150,
            wall_s=3.0,
            eval_return_mean=10.0,
            eval_return_std=1.0,
            eval_episodes=2,
        ),
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    wide = _png_size(write_learning_curve(tmp_path))
    # an older run: no diagnostics
    (tmp_path / "metrics.jsonl").write_text(json.dumps(lines[-1]) + "\n")
    narrow = _png_size(write_learning_curve(tmp_path))
    assert wide[1] == narrow[1] and wide[0] > 2 * narrow[0]


def _band(ax):
    """The y values of the ± std band (a fill_between polygon) of an axes."""
    from matplotlib.collections import PolyCollection

    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    return band.get_paths()[0].vertices[:, 1]


def test_the_learning_curve_is_titled_by_what_ran_and_its_band_stays_within_cartpoles_returns(
    tmp_path,
):
    """CartPole-v1 pays 1 a step for at most 500 steps: a band of 480 ± 40 stops at 500, one
    of 20 ± 30 at 0, and one inside [0, 500] (300 ± 50) is left as it is."""
    from ezv2_lite.config import override, to_json
    from ezv2_lite.presets import preset
    from ezv2_lite.tools.report import learning_curve_figure

    (tmp_path / "config.json").write_text(to_json(override(preset("cartpole"), seed=3).resolved()))
    evals = [(1000, 20.0, 30.0), (2000, 300.0, 50.0), (3000, 480.0, 40.0)]
    lines = [
        dict(
            env_steps=500,
            train_steps=0,
            wall_s=1.0,
            train_episode_return=12.0,
            train_episode_length=12,
        )
    ]
    lines += [
        dict(
            env_steps=x,
            train_steps=2 * x,
            wall_s=x / 100,
            eval_return_mean=mean,
            eval_return_std=std,
            eval_episodes=10,
        )
        for x, mean, std in evals
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    ax = learning_curve_figure(tmp_path).axes[0]
    assert ax.get_title() == "cartpole · CartPole-v1 · seed 3"
    assert sorted(set(_band(ax))) == [0.0, 50.0, 250.0, 350.0, 440.0, 500.0]


def test_the_band_of_a_game_without_known_bounds_is_mean_plus_minus_std(tmp_path):
    from ezv2_lite.config import EnvConfig
    from ezv2_lite.tools.report import learning_curve_figure, return_bounds

    run = _fake_atari_run(tmp_path, "pong", "Pong", -20.0)
    lines = [
        json.loads(line) | {"eval_return_std": 3.0}
        for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    ax = learning_curve_figure(run).axes[0]
    assert ax.get_title() == "Pong"
    assert sorted(set(_band(ax))) == [-24.0, -23.0, -18.0, -17.0]
    # DMC: [0, 1] a frame over 1,000 frames, whatever the action repeat; Gymnasium ids
    # outside the classic-control table have none
    assert return_bounds(EnvConfig(suite="dmc", name="walker-walk", action_repeat=4)) == (
        0.0,
        1000.0,
    )
    assert return_bounds(EnvConfig(suite="gym", name="CartPole-v0")) == (0.0, 200.0)
    assert return_bounds(EnvConfig(suite="gym", name="LunarLander-v3")) is None


def test_reference_returns_are_drawn_as_labelled_horizontal_lines(tmp_path):
    from ezv2_lite.tools.report import learning_curve_figure

    run = _fake_atari_run(tmp_path, "pong", "Pong", -20.0)
    ax = learning_curve_figure(
        run, references={"random policy": -20.7, "do-nothing policy": -21.0}
    ).axes[0]
    flat = {line.get_label(): set(line.get_ydata()) for line in ax.get_lines()}
    assert flat["random policy (-20.7)"] == {-20.7} and flat["do-nothing policy (-21)"] == {-21.0}
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "random policy (-20.7)" in legend


@pytest.mark.parametrize(
    "first_actions",
    [
        {"eval_first_action_shares": [0.25, 0.75]},
        {"eval_first_action_mean": [[0.6], [0.5], [0.1]]},
    ],
)
def test_the_report_draws_the_root_diagnostics_of_the_evaluations(tmp_path, first_actions):
    from ezv2_lite.tools.report import learning_curve_figure

    lines = [
        dict(
            env_steps=x,
            train_steps=x,
            wall_s=1.0,
            eval_return_mean=1.0,
            eval_return_std=0.5,
            eval_episodes=2,
            eval_root_value_mean=mean,
            eval_root_value_std=1.5,
            **first_actions,
        )
        for x, mean in ((100, 10.0), (200, 12.0))
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    fig = learning_curve_figure(tmp_path)
    # the second row (the first has the curve and a blank)
    values, actions = (
        fig.axes[2],
        fig.axes[3],
    )
    assert values.get_title() == "root values in evaluation"
    assert [list(line.get_ydata()) for line in values.get_lines()] == [[10.0, 12.0]]
    assert sorted(set(_band(values))) == [8.5, 10.5, 11.5, 13.5]
    drawn = [list(line.get_ydata()) for line in actions.get_lines() if line.get_label()[0] != "_"]
    if "eval_first_action_shares" in first_actions:
        assert drawn == [[0.25, 0.25], [0.75, 0.75]]  # each action's share at each evaluation
    else:
        assert drawn == [[0.6, 0.5, 0.1]] * 2  # the mean first action, step by step
    assert not fig.axes[1].axison  # nothing to draw beside the curve
    from ezv2_lite.config import to_json
    from ezv2_lite.presets import preset
    from ezv2_lite.tools.report import summary

    (tmp_path / "config.json").write_text(to_json(preset("cartpole").resolved()))
    table = summary(tmp_path).splitlines()
    assert table[0].split()[-2:] == ["root", "value"] and table[1].split()[-3:] == [
        "10.00",
        "±",
        "1.50",
    ]
