"""`ezv2-lite sweep`: the grid, what counts as finished, and runs on a local Ray instance that
survive a killed worker (ezv2_lite/tools/sweep.py)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tiny_training import TINY_TRAINING

from ezv2_lite.config import ConfigError
from ezv2_lite.tools.sweep import Arm, SweepRun, grid_arms, is_finished, plan, read_grid

TINY = [
    *TINY_TRAINING,
    *"--train.eval-every-env-steps 225 --train.log-every-env-steps 100".split(),
    *"--train.checkpoint-every-env-steps 150 --train.total-env-steps 450".split(),
]


def test_the_grid_is_every_preset_task_and_seed_once_seed_by_seed():
    runs = plan(["cartpole", "pendulum"], seeds=[0, 1], overrides=["--search.num-simulations", "4"])
    assert [run.name for run in runs] == [
        "cartpole-seed0",
        "pendulum-seed0",
        "cartpole-seed1",
        "pendulum-seed1",
    ]
    assert runs[3].config().seed == 1 and runs[3].config().search.num_simulations == 4
    assert runs[1].config().env.name == "Pendulum-v1"
    walker = plan(["dmc_state"], seeds=[3], tasks=["walker-stand"])[0]
    assert (
        walker.name == "dmc_state-walker-stand-seed3" and walker.config().env.name == "walker-stand"
    )


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(presets=["cartpole"], seeds=[]), "at least one preset and one seed"),
        (dict(presets=["cartpole"], seeds=[0, 0]), "names some runs twice"),
        (dict(presets=["cartpole"], seeds=[0], overrides=["--search.num-simulations"]), "in pairs"),
        (dict(presets=["nope"], seeds=[0]), "nope"),
    ],
)
def test_a_bad_grid_fails_before_anything_runs(kwargs, words):
    with pytest.raises((ConfigError, SystemExit, ValueError)) as error:
        plan(**kwargs)
    assert error.type is SystemExit or words in str(error.value)


def test_a_run_is_finished_when_its_last_evaluation_is_at_its_budget_after_its_last_learner_step(
    tmp_path,
):
    (tmp_path / "config.json").write_text(json.dumps({"train": {"total_env_steps": 600}}))
    lines = [
        {"env_steps": 300, "train_steps": 10, "eval_return_mean": 9.0},
        {"env_steps": 600, "train_steps": 20, "eval_return_mean": 20.0},
    ]
    write = lambda rows: (tmp_path / "metrics.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in rows)
    )
    write(lines[:1])
    assert not is_finished(tmp_path)
    write(lines)
    assert is_finished(tmp_path)
    write(lines + [{"env_steps": 600, "train_steps": 30, "total": 1.0}])  # offline steps after it
    assert not is_finished(tmp_path)
    assert not is_finished(tmp_path / "missing")


def test_the_progress_report_counts_the_runs_and_estimates_the_time_left(tmp_path):
    from ezv2_lite.tools.sweep import progress_report

    runs = [SweepRun("cartpole", seed) for seed in range(5)]
    totals = {run.name: 10_000 for run in runs}
    for run, rows in [
        (runs[0], [{"env_steps": 10_000, "wall_s": 600.0}]),  # finished in 10 min
        (runs[1], [{"env_steps": 10_000, "wall_s": 1200.0}]),  # finished in 20 min
        (runs[2], [{"env_steps": 5_000, "wall_s": 450.0}]),  # half way
    ]:
        (tmp_path / run.name).mkdir()
        (tmp_path / run.name / "metrics.jsonl").write_text(
            "".join(json.dumps(r) + "\n" for r in rows)
        )
    lines = progress_report(runs[2:], runs[:2], tmp_path, totals)
    assert lines[0].startswith("cartpole-seed2: running, env steps 5,000 of 10,000")
    assert len(lines) == 2  # the waiting runs are counted, not listed
    # 15 min a run, 2.5 runs to do (half of one and two waiting), one at a time: 37.5 min
    assert lines[1] == (
        "sweep: 2 of 5 runs finished, 1 running, 2 waiting; "
        "about 38 min left (15 min a run, 1 at a time)"
    )
    assert progress_report(runs[2:], [], tmp_path, totals)[-1].endswith(
        "time left known once a run has finished"
    )


def evaluation_rows(run_dir: Path) -> list[tuple[int, int]]:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [
        (line["env_steps"], line["train_steps"]) for line in lines if "eval_return_mean" in line
    ]


@pytest.mark.slow
def test_a_sweep_on_local_ray_survives_a_killed_worker_and_a_second_run_does_no_work(tmp_path):
    pytest.importorskip("ray", reason="the cluster extra: pip install -e '.[cluster]'")
    sweep_dir = tmp_path / "sweep"
    command = [
        sys.executable,
        "-m",
        "ezv2_lite.tools.cli",
        "sweep",
        "--sweep-dir",
        str(sweep_dir),
        "--seeds",
        "0",
        "1",
        "--num-cpus",
        "2",
        "--",
        *TINY,
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", RAY_DEDUP_LOGS="0")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    victim = sweep_dir / SweepRun("cartpole", 0, None, tuple(TINY)).name
    deadline = time.monotonic() + 300
    while not (
        victim / "checkpoints" / "latest"
    ).exists():  # its first checkpoint, at 150 env steps
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read()
        time.sleep(0.1)
    assert not is_finished(victim)
    killed = int((victim / "worker.pid").read_text())
    os.kill(killed, signal.SIGKILL)  # the Ray worker running that run dies mid-way
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output
    assert "Token authentication" not in output  # (Ray's note on its private instance's token)
    assert int((victim / "worker.pid").read_text()) != killed, (
        "the run was not retried in a new worker"
    )
    for seed in (0, 1):
        run_dir = sweep_dir / SweepRun("cartpole", seed, None, tuple(TINY)).name
        assert is_finished(run_dir), output
        rows = evaluation_rows(run_dir)
        assert len(rows) == len(set(rows)) and rows[-1][0] == 450, (run_dir.name, rows)
    again = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert again.returncode == 0 and "nothing to do" in again.stdout, again.stdout + again.stderr


def test_a_grid_file_gives_the_presets_seeds_and_overrides(tmp_path):
    from ezv2_lite.tools.sweep import read_grid

    path = tmp_path / "grid.toml"
    path.write_text(
        'presets = ["cartpole", "pendulum"]\nseeds = [3, 4]\n'
        'overrides = ["--search.num-simulations", 4]\n'
    )
    grid = read_grid(path)
    runs = plan(grid["presets"], grid["seeds"], overrides=[str(x) for x in grid["overrides"]])
    assert [run.name for run in runs] == [
        "cartpole-seed3",
        "pendulum-seed3",
        "cartpole-seed4",
        "pendulum-seed4",
    ]
    assert runs[0].config().search.num_simulations == 4
    path.write_text('preset = ["cartpole"]\n')
    with pytest.raises(ConfigError, match="unknown keys \\['preset'\\]"):
        read_grid(path)
    with pytest.raises(ConfigError, match="does not exist"):
        read_grid(tmp_path / "missing.toml")


def test_arms_add_their_overrides_to_their_runs_and_name_them():
    arms = [
        Arm("default"),
        Arm("td", ("--optim.value-target", "td")),
        Arm(
            "few",
            ("--search.policy-samples", "1", "--search.widened-samples", "3"),
            presets=("pendulum",),
        ),
    ]
    runs = plan(
        ["cartpole", "pendulum"],
        seeds=[0, 1],
        arms=arms,
        overrides=["--search.num-simulations", "4"],
    )
    assert [run.name for run in runs[:5]] == [
        "cartpole-default-seed0",
        "cartpole-td-seed0",
        "pendulum-default-seed0",
        "pendulum-td-seed0",
        "pendulum-few-seed0",
    ]
    assert len(runs) == 10 and runs[5].name == "cartpole-default-seed1"
    td, few = runs[3].config(), runs[4].config()
    assert td.optim.value_target == "td" and td.search.num_simulations == 4
    assert (few.search.policy_samples, few.search.widened_samples, few.optim.value_target) == (
        1,
        3,
        "mixed",
    )


@pytest.mark.parametrize(
    "arms, words",
    [
        (
            [Arm("default"), Arm("eight", ("--search.num-simulations", "8"))],
            "give cartpole the same configuration",
        ),
        ([Arm("a-b")], "letters, digits and '_'"),
        ([Arm("odd", ("--search.num-simulations",))], "arm 'odd': overrides come in pairs"),
        ([Arm("walker", presets=("dmc_state",))], "presets the sweep does not run"),
    ],
)
def test_arms_that_cannot_be_told_apart_or_run_are_refused(arms, words):
    with pytest.raises(ConfigError, match=words):
        plan(["cartpole"], seeds=[0], arms=arms)  # (cartpole searches with 8 simulations)


def test_a_grid_file_gives_arms_as_lists_or_tables(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        'presets = ["cartpole", "pendulum"]\nseeds = [0]\n[arms]\ndefault = []\n'
        'td = ["--optim.value-target", "td"]\n'
        '[arms.few]\npresets = ["pendulum"]\noverrides = ["--search.policy-samples", 1]\n'
    )
    arms = grid_arms(read_grid(path))
    assert arms == [
        Arm("default"),
        Arm("td", ("--optim.value-target", "td")),
        Arm("few", ("--search.policy-samples", "1"), ("pendulum",)),
    ]
    assert grid_arms({"presets": ["cartpole"]}) is None
    for text, words in [
        ('[arms.few]\npreset = ["pendulum"]\n', "unknown keys \\['preset'\\]"),
        ('arms = ["td"]\n', "arms is a table"),
        ('[arms.few]\npresets = "pendulum"\n', "presets is a non-empty list"),
        ("[arms.few]\npresets = []\n", "presets is a non-empty list"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=words):
            read_grid(path)


@pytest.mark.slow
def test_the_ablation_grid_of_the_course_plans():
    grid = read_grid(Path(__file__).parent.parent / "benchmarks" / "ablations" / "grid.toml")
    runs = plan(grid["presets"], grid["seeds"], arms=grid_arms(grid))
    configs = {run.name: run.config() for run in runs if run.seed == 0}
    assert configs["cartpole-uniform-seed0"].replay.alpha == 0
    assert configs["pendulum-policy_only-seed0"].search.widened_samples == 0
    assert "cartpole-policy_only-seed0" not in configs  # continuous search: pendulum only
    dmc = read_grid(Path(__file__).parent.parent / "benchmarks" / "ablations" / "dmc_state.toml")
    runs = plan(
        dmc["presets"],
        dmc["seeds"],
        dmc["tasks"],
        [str(x) for x in dmc["overrides"]],
        grid_arms(dmc),
    )
    assert len(runs) == 30 and runs[1].name == "dmc_state-cartpole-swingup-td-seed0"
    assert (
        runs[1].config().optim.value_target == "td"
        and runs[1].config().train.total_env_steps == 25_000
    )
