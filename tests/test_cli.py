"""`ezv2-lite check-env` and the command line's handling of bad input."""

import subprocess
import sys

import pytest
import torch

from ezv2_lite.tools.cli import main


def run_cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "ezv2_lite.tools.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_check_env_cartpole_as_a_program():
    result = run_cli("check-env", "--env.name", "CartPole-v1", "--steps", "500")
    assert result.returncode == 0, result.stderr
    assert "gym:CartPole-v1" in result.stdout and "Discrete(2)" in result.stdout
    assert "agent steps/s" in result.stdout and "finished episodes" in result.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--env.suite", "atari", "--env.name", "Pong"], "uint8[12, 96, 96], actions Discrete(6)"),
        (
            ["--env.suite", "dmc", "--env.name", "walker-walk"],
            "float32[24], actions Box([-1, 1]^6)",
        ),
        (
            ["--env.suite", "dmc", "--env.name", "walker-walk", "--env.pixels"],
            "uint8[12, 96, 96], actions Box([-1, 1]^6)",
        ),
        (["--preset", "dmc_image", "--env.name", "cartpole-balance"], "uint8[12, 96, 96]"),
    ],
)
def test_check_env_builds_each_suite(args, expected, capsys):
    main(["check-env", *args, "--steps", "100"])
    out = capsys.readouterr().out
    assert expected in out and "100 agent steps" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["check-env", "--preset", "nope"], "unknown preset 'nope'"),
        (["check-env", "--env.suite", "dmc", "--env.name", "walker-fly"], "unknown DMC task"),
        (["check-env", "--env.name", "Blackjack-v1"], "not supported"),
        (["check-env", "--steps", "0"], "--steps must be a positive integer"),
        (["check-env", "--env.frame-stack", "0"], "env.frame_stack must be a positive integer"),
        (["frobnicate"], "unknown command 'frobnicate'"),
        (
            ["train", "--total-steps", "1500"],
            "unrecognized option --total-steps: did you mean --total-env-steps",
        ),
        (
            ["train", "--optim.lrr", "0.1"],
            "unrecognized option --optim.lrr: did you mean --optim.lr ",
        ),
        (
            ["train", "--preset", "atari", "--frobnicate", "3"],
            "unrecognized option --frobnicate (`--help` lists",
        ),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_status_2(args, message):
    result = run_cli(*args)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_help_lists_the_commands(capsys):
    main([])
    assert "check-env" in capsys.readouterr().out


@pytest.mark.parametrize(
    "command", ["train", "eval", "export", "agents", "report", "check-env", "bench", "sweep"]
)
def test_every_command_has_help(command, capsys):
    """`ezv2-lite COMMAND --help`, as the top-level help promises: a usage line, not an error."""
    try:
        main([command, "--help"])
    except SystemExit as stop:  # (tyro exits 0 after its help)
        assert stop.code == 0, capsys.readouterr().err
    assert f"usage: ezv2-lite {command}" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [["eval", "cartpole", "--help"], ["eval", "-h", "cartpole"], ["report", "runs/x", "--help"]],
)
def test_help_after_an_argument_is_help_not_an_error(args, capsys):
    main(args)
    assert f"usage: ezv2-lite {args[0]}" in capsys.readouterr().out


def test_bench_search_writes_medians_to_json(tmp_path, capsys):
    out = tmp_path / "search.json"
    main(
        [
            "bench",
            "search",
            "--presets",
            "cartpole",
            "--batches",
            "1",
            "3",
            "--repeats",
            "2",
            "--out",
            str(out),
            "--profile",
        ]
    )
    import json

    data = json.loads(out.read_text())
    runs = data["presets"]["cartpole"]["batches"]
    assert set(runs) == {"1", "3"} and len(runs["3"]["runs_ms"]) == 2
    assert runs["1"]["median_ms"] > 0 and data["machine"]["torch_threads"] == 1
    # a state model
    assert runs["3"]["fused_median_ms"] > 0 and len(runs["3"]["fused_runs_ms"]) == 2
    profile = runs["3"]["profile"]
    assert 0 < profile["torch_ops_ms"] < profile["wall_ms"] and profile["fused_inference"]
    assert any(op["name"] == "aten::addmm" for op in profile["top_ops"])  # the fused Linears
    assert "search cartpole" in capsys.readouterr().out


def test_bench_needs_a_known_kind():  # noqa
    result = run_cli("bench", "nothing")
    assert (
        result.returncode == 2
        and "usage: ezv2-lite bench {search|learner|acting|e2e|learn|train-rate}" in result.stderr
    )


def test_bench_learner_writes_stage_medians(tmp_path):
    out = tmp_path / "learner.json"
    main(
        [
            "bench",
            "learner",
            "--presets",
            "cartpole",
            "--repeats",
            "2",
            "--transitions",
            "300",
            "--out",
            str(out),
        ]
    )
    import json

    entry = json.loads(out.read_text())["presets"]["cartpole"]
    assert set(entry["median_ms"]) == {"sample", "reanalyze", "update", "total"}
    assert entry["search_roots"] == 64 * 6 and len(entry["runs_ms"]["total"]) == 2
    # Independent lower bound on the counted FLOPs: every simulation of every root runs each
    # Linear layer of the dynamics and the three heads once, 2 FLOPs per weight.
    from ezv2_lite.config import override
    from ezv2_lite.envs import EnvSpec
    from ezv2_lite.model import build_model
    from ezv2_lite.presets import preset

    config = override(preset("cartpole"), env=dict(name="CartPole-v1"))
    model = build_model(config, EnvSpec((4,), "float32", "discrete", 2, None, 1, 1))
    weights = sum(
        layer.weight.numel()
        for part in (
            model.dyn_in,
            model.dyn_blocks,
            model.reward_head,
            model.value_head,
            model.policy_head,
        )
        for layer in part.modules()
        if isinstance(layer, torch.nn.Linear)
    )
    assert (
        entry["gflop_per_step"]["reanalyze"] * 1e9
        >= 0.99 * 64 * 6 * entry["simulations"] * 2 * weights
    )
    assert entry["gflop_per_step"]["update"] > 0 and entry["achieved_gflops"] > 0
    data = json.loads(out.read_text())
    assert data["matmul"]["gflops"] > 0 and 0 < entry["fraction_of_matmul_rate"] < 5


def test_bench_acting_and_end_to_end_write_throughputs(tmp_path):
    import json

    main(
        [
            "bench",
            "acting",
            "--presets",
            "cartpole",
            "--steps",
            "2",
            "--out",
            str(tmp_path / "a.json"),
        ]
    )
    acting = json.loads((tmp_path / "a.json").read_text())["presets"]["cartpole"]
    assert acting["num_envs"] == 4 and acting["agent_steps_per_s"] > 0 and acting["search_ms"] > 0
    main(
        [
            "bench",
            "e2e",
            "--presets",
            "cartpole",
            "--env-steps",
            "200",
            "--no-progress",
            "--out",
            str(tmp_path / "e.json"),
        ]
    )
    e2e = json.loads((tmp_path / "e.json").read_text())["presets"]["cartpole"]
    # learning starts at 500 ready transitions
    assert e2e["env_steps"] == 200 and e2e["train_steps"] == 0
    assert e2e["evaluations"][-1][0] == 200 and e2e["env_steps_per_s"] > 0


def test_matmul_rate_is_measured_per_size():
    from ezv2_lite.tools.bench import matmul_gflops

    rate = matmul_gflops(1, sizes=(64, 128), repeats=2)
    assert set(rate["median_gflops_by_size"]) == {"64", "128"}
    assert rate["gflops"] == max(rate["median_gflops_by_size"].values()) > 0


@pytest.mark.slow
def test_bench_learn_records_the_curve_and_resumes_its_run(tmp_path):
    import json

    args = [
        "bench",
        "learn",
        "--preset",
        "cartpole",
        "--task",
        "CartPole-v1",
        "--seed",
        "1",
        "--env-steps",
        "120",
        "--runs-root",
        str(tmp_path / "runs"),
        "--out-dir",
        str(tmp_path),
        "--no-progress",
    ]
    main(args)
    data = json.loads((tmp_path / "learn-cartpole-CartPole-v1-1.json").read_text())
    assert data["finished"] and data["evaluations"][-1]["env_steps"] >= 120
    assert data["command"].startswith(
        "ezv2-lite bench learn --preset cartpole --task CartPole-v1 --seed 1"
    )
    assert (tmp_path / "learn-cartpole-CartPole-v1-1.png").read_bytes()[
        :8
    ] == b"\x89PNG\r\n\x1a\n"  # the curve
    assert data["commit"] is None or len(data["commit"].split("+")[0]) == 40  # the code that ran
    first_peak = data["peak_resident_gb"]
    assert 0.1 < first_peak < 24  # a process's peak resident memory, in GB
    main([*args[:9], "240", *args[10:]])  # a larger budget continues the same run
    data = json.loads((tmp_path / "learn-cartpole-CartPole-v1-1.json").read_text())
    assert (
        data["env_steps_done"] >= 240
        and (tmp_path / "runs" / "learn-cartpole-CartPole-v1-1").is_dir()
    )
    assert data["peak_resident_gb"] >= first_peak  # the largest over the run's sessions


def test_bench_learn_records_the_command_that_reproduces_its_run(tmp_path):
    from ezv2_lite.tools.bench import LearnBenchArgs, bench_learn

    args = LearnBenchArgs(
        preset="cartpole",
        task="CartPole-v1",
        env_steps=200,
        eval_every=100,
        runs_root=str(tmp_path / "runs"),
        out_dir=str(tmp_path),
        progress=False,
    )
    result = bench_learn(args, log=lambda *_: None)
    assert result["command"].endswith("--eval-every 100")
    assert "--checkpoint-every" not in result["command"]  # the default is left out
    assert [e["env_steps"] for e in result["evaluations"]] == [100, 200]


def test_block_times_split_a_runs_wall_time_by_env_steps():
    from ezv2_lite.tools.bench import block_times

    lines = [
        {"env_steps": s, "wall_s": w}
        for s, w in [
            (200, 5.0),
            (1000, 20.0),
            (1600, 31.0),
            (2200, 47.0),
            (3000, 70.0),
            (3100, 72.0),
        ]
    ]
    assert block_times(lines, 1000) == [20.0, 27.0, 23.0]
    # a line past several block edges closes each of them
    assert block_times([{"env_steps": 2500, "wall_s": 9.0}], 1000) == [9.0, 0.0]


@pytest.mark.slow
def test_the_gpu_check_script_runs_its_benchmarks_dry_on_a_cpu(tmp_path):
    """benchmarks/gpu_check.sh, as DEVELOPERS.md says to dry-run it (without its timed training
    run): the CUDA tests (skipped on a CPU), its JSON files with the device named, a
    synchronised search per batch, the search with the compiled model step, and a learner step
    on a synthetic replay with its frames where a run would put them and on the host."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).parents[1]
    env = dict(
        os.environ,
        DEVICE="cpu",
        REPEATS="1",
        SEARCH_PRESETS="cartpole",
        BATCHES="1 3",
        LEARNER_PRESETS="cartpole",
        PIXEL_PRESETS="cartpole",
        COMPILE_PRESETS="cartpole",
        COMPILE_BATCHES="3",
        STEPS="tests search learner learner-frames-on-host compiled",
        OUT=str(tmp_path),
        PYTHON=sys.executable,
    )
    run = subprocess.run(
        ["bash", str(root / "benchmarks" / "gpu_check.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0 and "failed: none" in run.stdout, (
        run.stdout[-2000:] + run.stderr[-2000:]
    )
    assert 'skipped="' in (tmp_path / "test-cuda-cpu.xml").read_text()
    assert (
        json.loads((tmp_path / "learner-frames-on-host-cpu.json").read_text())["presets"][
            "cartpole"
        ]["frames_on"]
        == "cpu"
    )
    search = json.loads((tmp_path / "search-cpu.json").read_text())
    learner = json.loads((tmp_path / "learner-cpu.json").read_text())
    assert search["machine"]["device"] == learner["machine"]["device"] == "cpu"
    assert set(search["presets"]["cartpole"]["batches"]) == {"1", "3"}
    assert learner["presets"]["cartpole"]["median_ms"]["total"] > 0
    compiled = json.loads((tmp_path / "search-compiled-cpu.json").read_text())
    batch = compiled["presets"]["cartpole"]["batches"]["3"]
    assert batch["compiled_median_ms"] > 0 and batch["compiled_same_choices"]


def test_train_rate_reads_a_runs_speed_from_its_metrics(tmp_path, capsys):
    """`bench train-rate`: rates between the first line after learning started and the last,
    and the whole budget's hours at that rate; a run that never learned is a clear error."""
    import json

    from ezv2_lite.tools.bench import TrainRateArgs, bench_train_rate

    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "preset": "atari",
                "device": "cuda",
                "env": {"name": "Pong"},
                "train": {"total_env_steps": 10_000},
            }
        )
    )
    lines = [
        dict(env_steps=400, train_steps=0, wall_s=10.0),
        dict(env_steps=800, train_steps=100, wall_s=30.0),
        dict(env_steps=1200, train_steps=200, wall_s=40.0),
        dict(env_steps=2800, train_steps=600, wall_s=80.0),
    ]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    result = bench_train_rate(TrainRateArgs(str(tmp_path), out=str(tmp_path / "rate.json")))
    assert result["env_steps_per_s"] == 40.0 and result["learner_steps_per_s"] == 10.0
    assert result["hours_for_total_env_steps"] == round((80 + 7200 / 40) / 3600, 2)
    (tmp_path / "metrics.jsonl").write_text(json.dumps(lines[1]) + "\n")
    with pytest.raises(ValueError, match="fewer than two lines after learning started"):
        bench_train_rate(TrainRateArgs(str(tmp_path), out=str(tmp_path / "rate.json")))


@pytest.mark.slow
def test_train_help_shows_the_shortcuts_first_and_the_chosen_presets_values():
    import subprocess
    import sys

    def help_text(*args):
        run = subprocess.run(
            [sys.executable, "-m", "ezv2_lite.tools.cli", "train", *args, "--help"],
            capture_output=True,
            text=True,
            timeout=120,
            env={**__import__("os").environ, "COLUMNS": "200"},
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    default, atari = help_text(), help_text("--preset", "atari")
    for shortcut in ("--run-dir DIR", "--resume RUN_DIR", "--total-env-steps N", "--no-progress"):
        assert shortcut in default and default.index(shortcut) < default.index(
            "--train.total-env-steps INT"
        )
    # cartpole's and atari's budgets
    assert "(default: 10000)" in default and "(default: 400000)" in atari


def test_printed_numbers_that_show_as_zero_have_no_minus_sign_and_one_of_a_thing_is_singular():
    from ezv2_lite.tools.args import number, plural

    assert [number(x) for x in (-0.001, -0.0, 0.0, 0.004, -0.005001, -2.5)] == [
        "0.00",
        "0.00",
        "0.00",
        "0.00",
        "-0.01",
        "-2.50",
    ]
    assert number(-0.0, ".3g") == "0" and number(-0.0483, ".3g") == "-0.0483"
    assert [plural(n, "episode") for n in (0, 1, 2, 1500)] == [
        "0 episodes",
        "1 episode",
        "2 episodes",
        "1,500 episodes",
    ]


def test_check_env_counts_its_episodes_in_words(capsys):
    main(["check-env", "--steps", "1"])
    out = capsys.readouterr().out
    assert (
        "random policy: 1 agent step in" in out
        and "no episode finished in 1 step (current return 1.00)" in out
    )


def test_making_an_atari_env_prints_no_ale_banner():
    result = run_cli("check-env", "--env.suite", "atari", "--env.name", "Pong", "--steps", "10")
    assert result.returncode == 0, result.stderr
    assert "Pong" in result.stdout and "A.L.E" not in result.stderr + result.stdout


def test_a_reader_that_goes_away_gets_no_traceback():
    """`ezv2-lite --help | head -1`: the output's reader closes the pipe before the help is written."""
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "ezv2_lite.tools.cli", "--help"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    process.stdout.close()  # gone before the child has written anything
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 1 and "Traceback" not in stderr, stderr


def test_the_flags_offered_for_a_misspelt_option_are_the_ones_tyro_accepts():
    """`config_flags` lists exactly the options `train --help` shows for the config: each one
    is accepted, none is missing."""
    import re

    from ezv2_lite.presets import preset
    from ezv2_lite.tools.args import config_flags

    shown = run_cli("train", "--preset", "atari", "--help")
    assert shown.returncode == 0
    listed = set(
        re.findall(r"(--[a-z][a-z0-9-]*(?:\.[a-z0-9-]+)+|--(?:seed|device|preset))\b", shown.stdout)
    )
    listed.discard("--section.field")  # (the usage line's placeholder)
    assert listed == config_flags(preset("atari")), listed ^ config_flags(preset("atari"))
    from ezv2_lite.tools.args import check_options

    # tyro's spellings too
    check_options(["--optim.state_gradient", "all", "--train.total_env_steps=5"], listed)
