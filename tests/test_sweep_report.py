"""The sweep report on a small fixed sweep: scores per task, pooled normalised scores, intervals."""

import json

import numpy as np
import pytest

pytest.importorskip("rliable", reason="the cluster extra: pip install -e '.[cluster]'")

from ezv2_lite.config import override, to_json  # noqa: E402
from ezv2_lite.presets import preset
from ezv2_lite.tools.sweep_report import curves_figure, report_table, sweep_report  # noqa: E402

FINAL = {"cartpole": [100.0, 200.0, 300.0, 400.0], "pendulum": [-400.0, -300.0, -200.0, -100.0]}
BEST_EXTRA = 50.0  # each run's best evaluation is its middle one, 50 above its final


def fake_sweep(root):
    runs = []
    for name, finals in FINAL.items():
        for seed, final in enumerate(finals):
            run = f"{name}-seed{seed}"
            runs.append({"name": run})
            (root / run).mkdir(parents=True)
            (root / run / "config.json").write_text(to_json(override(preset(name), seed=seed)))
            rows = [
                {"env_steps": 1000 * i, "train_steps": 10 * i, "eval_return_mean": value}
                for i, value in enumerate([final - 100, final + BEST_EXTRA, final], start=1)
            ]
            (root / run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "sweep.json").write_text(json.dumps({"runs": runs}))


def test_per_task_scores_and_intervals_under_both_protocols(tmp_path):
    fake_sweep(tmp_path)
    report = sweep_report(tmp_path)
    cartpole = report["tasks"]["cartpole · CartPole-v1"]
    assert cartpole["final"]["scores"] == FINAL["cartpole"]
    point, low, high = cartpole["final"]["estimates"]["IQM"]
    assert point == pytest.approx(250.0)  # the mean of the middle two of four runs
    assert low <= point <= high and 100 <= low and high <= 400
    assert cartpole["best"]["estimates"]["mean"][0] == pytest.approx(
        np.mean(FINAL["cartpole"]) + BEST_EXTRA
    )
    assert report["tasks"]["pendulum · Pendulum-v1"]["final"]["estimates"]["median"][
        0
    ] == pytest.approx(-250.0)
    assert json.loads((tmp_path / "report.json").read_text()) == json.loads(json.dumps(report))


def test_tasks_pool_on_normalised_scores(tmp_path):
    """CartPole's returns lie in [0, 500], Pendulum-v1's in [-16.27 x 200, 0]: each run's score becomes
    (return - lowest) / (highest - lowest) and the runs pool over both tasks."""
    fake_sweep(tmp_path)
    pooled = sweep_report(tmp_path)["over_tasks"]["final"]
    matrix = np.array(pooled["normalised"])
    low = -(np.pi**2 + 0.1 * 64 + 0.001 * 4) * 200
    np.testing.assert_allclose(matrix[:, 0], np.array(FINAL["cartpole"]) / 500)
    np.testing.assert_allclose(matrix[:, 1], (np.array(FINAL["pendulum"]) - low) / -low)
    assert pooled["estimates"]["mean"][0] == pytest.approx(matrix.mean())
    # no score reaches 1
    assert pooled["estimates"]["optimality gap"][0] == pytest.approx(np.mean(1 - matrix))
    table = report_table(sweep_report(tmp_path))
    lines = table.splitlines()
    assert "cartpole · CartPole-v1 (" in table and "normalised over 2 tasks" in table
    header = next(i for i, line in enumerate(lines) if line.startswith("cartpole")) + 1
    assert lines[header].split() == ["IQM", "mean", "median"]
    # the final returns' IQM, then its interval
    assert lines[header + 1].split()[:2] == [
        "final",
        "250.0",
    ]
    assert max(len(line) for line in lines) <= 100  # fits a notebook beside the file browser
    assert curves_figure(tmp_path).stat().st_size > 10_000


def test_published_returns_of_the_same_task_come_with_their_units():
    from ezv2_lite.config import EnvConfig
    from ezv2_lite.tools.sweep_report import published_baselines

    walker = published_baselines(EnvConfig(suite="dmc", name="walker-walk"))
    assert {row["method"] for row in walker} == {"dreamerv3", "ddpg"} and all(
        row["x_unit"] for row in walker
    )
    pixels = published_baselines(EnvConfig(suite="dmc", name="cartpole-balance", pixels=True))
    assert {"dreamerv3", "drqv2", "curl"} <= {row["method"] for row in pixels}
    # as DreamerV3 publishes them
    assert [(r["method"], r["mean"]) for r in pixels if r["x"] == "20000"] == [
        ("dreamerv3", "303.9"),
        ("drqv2", "374.7"),
        ("curl", "394.3"),
    ]
    (pong,) = published_baselines(EnvConfig(suite="atari", name="Pong"))
    assert pong["method"] == "dreamerv3" and pong["seeds"] == "5"
    assert published_baselines(EnvConfig(suite="gym", name="CartPole-v1")) == []
    breakout = published_baselines(EnvConfig(suite="minatar", name="Breakout"))
    assert [(r["method"], r["x"], r["mean"]) for r in breakout] == [
        ("dqn", "100000", "4.4"),
        ("dqn", "1000000", "9.2"),
    ]
    assert {r["task"] for r in published_baselines(EnvConfig(suite="minatar", name="Freeway"))} == {
        "Freeway"
    }


def test_the_median_of_one_task_is_the_median_of_its_runs():
    from ezv2_lite.tools.sweep_report import interval_estimates

    scores = np.array([464.6, 500.0, 500.0, 500.0, 500.0])  # four solved runs and one short of it
    estimates = interval_estimates(scores[:, None], with_gap=False)
    assert estimates["median"][0] == 500.0 and estimates["mean"][0] == pytest.approx(492.92)
    two_tasks = np.stack([scores, scores - 100], axis=1)  # over tasks: the median of the task means
    assert interval_estimates(two_tasks, with_gap=False)["median"][0] == pytest.approx(442.92)


def test_the_expected_return_table_reads_each_curve_at_the_budget():
    from ezv2_lite.config import EnvConfig
    from ezv2_lite.tools.sweep_report import expected_returns_table

    def line_of(table: str, name: str) -> str:
        return next(line for line in table.splitlines() if line.strip().startswith(name))

    pixels = EnvConfig(suite="dmc", name="cartpole-balance", pixels=True)
    table = expected_returns_table(pixels, 30_000, {"random policy": 320.04})
    assert line_of(table, "random policy").split()[-1] == "320.0"
    # CURL's curve has points at 20,000 (394.3) and 40,000 (809.5): at 30,000 the last one reached counts
    assert line_of(table, "curl").split()[-3:] == ["394.3", "at", "20,000"]
    assert line_of(expected_returns_table(pixels, 40_000), "curl").split()[-3:] == [
        "809.5",
        "at",
        "40,000",
    ]
    assert max(len(line) for line in table.splitlines()) <= 100
    breakout = expected_returns_table(EnvConfig(suite="minatar", name="Breakout"), 20_000)
    # its first point
    assert line_of(breakout, "dqn").endswith("4.4  at 100,000, beyond this budget")
    assert "final" in line_of(
        expected_returns_table(EnvConfig(suite="atari", name="Pong"), 400_000), "dreamerv3"
    )
    assert (
        expected_returns_table(EnvConfig(suite="gym", name="CartPole-v1"), 500)
        == "no reference returns for CartPole-v1"
    )
