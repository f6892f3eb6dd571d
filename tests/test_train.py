"""The training loop: resumable after SIGKILL, deterministic, clear errors on bad input."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_training import TINY_TRAINING

TINY = [
    "--preset",
    "cartpole",
    *TINY_TRAINING,
    *"--train.eval-every-env-steps 400 --train.log-every-env-steps 100 --no-progress".split(),
]


def cli(*args, **kw):
    return subprocess.run(
        [sys.executable, "-m", "ezv2_lite.tools.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        **kw,
    )


def metrics(run_dir):
    return [json.loads(line) for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines()]


def replay_arrays(checkpoint):
    with np.load(Path(checkpoint) / "replay.npz", allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.slow
def test_a_run_killed_after_a_checkpoint_resumes_and_keeps_its_replay(tmp_path):
    run = tmp_path / "run"
    args = [
        "train",
        *TINY,
        "--total-env-steps",
        "900",
        "--train.checkpoint-every-env-steps",
        "300",
        "--run-dir",
        str(run),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "ezv2_lite.tools.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    complete = run / "checkpoints" / "latest" / "COMPLETE"
    deadline = time.time() + 300
    while not complete.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert complete.exists(), "no checkpoint was written"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    checkpoint = run / "checkpoints" / "latest"
    if not (checkpoint / "COMPLETE").exists():
        checkpoint = run / "checkpoints" / "previous"
    saved = json.loads((checkpoint / "state.json").read_text())["counters"]
    saved_replay = replay_arrays(checkpoint)
    assert saved["agent_steps"] < 900

    result = cli("train", "--resume", str(run), "--no-progress")
    assert result.returncode == 0, result.stderr
    lines = metrics(run)
    resumed = [m for m in lines if m["env_steps"] > saved["agent_steps"]]
    assert resumed and lines[-1]["env_steps"] >= 900
    final = json.loads((run / "checkpoints" / "latest" / "state.json").read_text())["counters"]
    assert final["agent_steps"] >= 900 and final["train_steps"] > saved["train_steps"]
    # every transition the checkpoint recorded is still there, unchanged, in the same order
    final_replay = replay_arrays(run / "checkpoints" / "latest")
    n = len(saved_replay["episode_of"])
    for key in ("episode_of", "position_of"):
        np.testing.assert_array_equal(final_replay[key][:n], saved_replay[key])

    def steps(arrays, key):  # the per-step array cut into episodes (stored one after another)
        return np.split(arrays[key], np.cumsum(arrays["lengths"])[:-1])

    for key in ("actions", "rewards", "raw_rewards"):  # (the final replay has more episodes)
        for saved_episode, final_episode in zip(
            steps(saved_replay, key), steps(final_replay, key), strict=False
        ):
            np.testing.assert_array_equal(final_episode[: len(saved_episode)], saved_episode)
    episodes = len(saved_replay["lengths"])
    closed = saved_replay["closed"].astype(bool)
    np.testing.assert_array_equal(
        final_replay["lengths"][:episodes][closed], saved_replay["lengths"][closed]
    )
    # an episode open at the checkpoint gains the step that was waiting for its value, and ends
    with np.load(checkpoint / "pending.npz") as pending:
        open_with_a_step = saved_replay["open_episodes"][
            np.isin(saved_replay["open_slots"], pending["slots"])
        ]
    grown = final_replay["lengths"][:episodes] - saved_replay["lengths"]
    assert set(np.flatnonzero(grown)) == set(open_with_a_step) and set(grown[open_with_a_step]) <= {
        1
    }
    assert final_replay["closed"][:episodes].all()


@pytest.mark.parametrize(
    "worker", [[], ["--runtime.reanalysis-worker"]], ids=["one process", "worker"]
)
@pytest.mark.slow
def test_two_runs_with_the_same_seed_write_identical_metrics(tmp_path, worker):
    for name in ("a", "b"):
        result = cli(
            "train",
            *TINY,
            *worker,
            "--total-env-steps",
            "400",
            "--seed",
            "5",
            "--run-dir",
            str(tmp_path / name),
        )
        assert result.returncode == 0, result.stderr
    strip = lambda lines: [{k: v for k, v in m.items() if k != "wall_s"} for m in lines]
    a, b = strip(metrics(tmp_path / "a")), strip(metrics(tmp_path / "b"))
    assert len(a) > 3 and a == b
    assert any("eval_return_mean" in m for m in a) and any("total" in m for m in a)
    for line in (m for m in a if "total" in m):  # every loss line carries the diagnostics
        assert len(line["value_by_step"]) == 6 and len(line["reward_by_step"]) == 5
        assert line["root_policy_entropy"] > 0 and "root_policy_sigma" not in line
        assert 0 <= line["unvisited_target_mass"] <= 1 and 0 <= line["sve_fraction"] <= 1
    # and every evaluation its root diagnostics
    for line in (m for m in a if "eval_return_mean" in m):
        # CartPole
        assert line["eval_root_value_std"] >= 0 and len(line["eval_first_action_shares"]) == 2
        assert sum(line["eval_first_action_shares"]) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--preset", "nope"], "unknown preset 'nope'"),
        (["--preset", "cartpole", "--env.name", "CartPole-v99"], "unknown Gymnasium environment"),
        (
            ["--preset", "cartpole", "--total-env-steps", "0"],
            "--total-env-steps must be a positive integer",
        ),
        (
            ["--preset", "cartpole", "--total-env-steps", "-100"],
            "--total-env-steps must be a positive integer",
        ),
        (
            ["--preset", "cartpole", "--train.eval-every-env-steps", "-1"],
            "train.eval_every_env_steps must be > 0",
        ),
    ],
)
def test_bad_training_input_is_a_one_line_error_and_writes_nothing(tmp_path, args, message):
    run = tmp_path / "run"
    result = cli("train", *args, "--run-dir", str(run))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and message in errors[0], result.stderr
    assert not run.exists()


@pytest.mark.slow
def test_resume_without_a_checkpoint_and_a_truncated_checkpoint_are_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = cli("train", "--resume", str(empty))
    assert result.returncode == 2 and "holds no complete checkpoint" in result.stderr
    assert list(empty.iterdir()) == []

    run = tmp_path / "run"
    assert cli("train", *TINY, "--total-env-steps", "200", "--run-dir", str(run)).returncode == 0
    model = run / "checkpoints" / "latest" / "model.pt"
    model.write_bytes(model.read_bytes()[:100])
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    result = cli("train", "--resume", str(run))
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert (
        len(errors) == 1 and "cannot read checkpoint file" in errors[0] and "model.pt" in errors[0]
    )
    assert before == {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_an_existing_run_is_never_overwritten(tmp_path):
    run = tmp_path / "run"
    assert cli("train", *TINY, "--total-env-steps", "100", "--run-dir", str(run)).returncode == 0
    before = (run / "metrics.jsonl").read_text()
    result = cli("train", *TINY, "--total-env-steps", "100", "--run-dir", str(run))
    assert result.returncode == 2 and "already holds a run" in result.stderr
    assert (run / "metrics.jsonl").read_text() == before


@pytest.mark.slow
def test_eval_and_report_read_a_run(tmp_path):
    run = tmp_path / "run"
    assert cli("train", *TINY, "--total-env-steps", "200", "--run-dir", str(run)).returncode == 0
    result = cli("eval", str(run), "--episodes", "2")
    assert result.returncode == 0 and "2 evaluation episodes from seed" in result.stdout
    result = cli("eval", str(run), "--episodes", "1")
    assert result.returncode == 0 and "1 evaluation episode from seed" in result.stdout
    assert "evaluating 1 episode:" in result.stderr
    result = cli("report", str(run))
    assert result.returncode == 0 and "env steps" in result.stdout
    assert (run / "report.png").stat().st_size > 1000
    assert cli("report", str(tmp_path / "nothing")).returncode == 2


@pytest.mark.slow
def test_offline_learner_steps_follow_collection_and_are_counted(tmp_path):
    run = tmp_path / "run"
    result = cli(
        "train",
        *TINY,
        "--total-env-steps",
        "200",
        "--train.offline-train-steps",
        "12",
        "--run-dir",
        str(run),
    )
    assert result.returncode == 0, result.stderr
    counters = json.loads((run / "checkpoints" / "latest" / "state.json").read_text())["counters"]
    assert counters["offline_steps"] == 12
    assert counters["train_steps"] == int(counters["agent_steps"] * 0.25) + 12
    last = metrics(run)[-1]
    assert "eval_return_mean" in last and last["train_steps"] == counters["train_steps"]


@pytest.mark.parametrize(
    "worker, stop",
    [([], signal.SIGTERM), (["--runtime.reanalysis-worker"], signal.SIGTERM), ([], signal.SIGINT)],
    ids=["one process", "worker", "ctrl-c"],
)
@pytest.mark.slow
def test_sigterm_during_the_first_learner_burst_stops_promptly_and_resumes(tmp_path, worker, stop):
    """The first learner steps come in one burst (train_ratio x start_transitions of them);
    a stop asked for in the middle of it (SIGTERM, or Ctrl-C: SIGINT) must not wait for the
    burst to finish. With a
    reanalysis worker, the batch it had prefetched is recorded and sent again on resume,
    and the worker process ends with the run."""
    import psutil

    run = tmp_path / "run"
    start = 1000
    args = [
        "train",
        *TINY,
        *worker,
        "--train.train-ratio",
        "1",
        "--train.start-transitions",
        str(start),
        "--total-env-steps",
        str(start + 100),
        "--run-dir",
        str(run),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "ezv2_lite.tools.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = run / "metrics.jsonl"
    deadline = time.time() + 300
    # wait until collection reaches the burst
    while time.time() < deadline and process.poll() is None:
        if log.exists() and any(m["env_steps"] >= start - 60 for m in metrics(run)):
            break
        time.sleep(0.05)
    time.sleep(2.0)
    children = psutil.Process(process.pid).children(recursive=True)
    process.send_signal(stop)
    assert process.wait(timeout=60) == 0
    state = json.loads((run / "checkpoints" / "latest" / "state.json").read_text())
    saved = state["counters"]
    assert 0 < saved["train_steps"] < start, saved  # stopped inside the burst, with its steps kept
    assert (state["pending_reanalysis"] is not None) == bool(worker)
    if worker:
        assert state["pending_reanalysis"]["train_step"] == saved["train_steps"]
        # the worker (and spawn's helper) end too
        _, alive = psutil.wait_procs(children, timeout=10)
        assert children and not alive

    result = cli("train", "--resume", str(run), "--no-progress")
    assert result.returncode == 0, result.stderr
    final = json.loads((run / "checkpoints" / "latest" / "state.json").read_text())["counters"]
    assert final["train_steps"] >= start and final["agent_steps"] >= start + 100


@pytest.mark.slow
def test_a_budget_that_ends_before_learning_starts_runs_no_offline_steps(tmp_path):
    """Collection stops at 100 agent steps, below start_transitions = 150: nothing is learned,
    not even the preset's offline steps, but the run still evaluates and checkpoints."""
    run = tmp_path / "run"
    result = cli(
        "train",
        *TINY,
        "--total-env-steps",
        "100",
        "--train.start-transitions",
        "150",
        "--train.offline-train-steps",
        "500",
        "--run-dir",
        str(run),
    )
    assert result.returncode == 0, result.stderr
    counters = json.loads((run / "checkpoints" / "latest" / "state.json").read_text())["counters"]
    assert counters["agent_steps"] == 100
    assert counters["train_steps"] == 0 and counters["offline_steps"] == 0
    assert "eval_return_mean" in metrics(run)[-1]
    assert "peak memory" in result.stdout


def test_a_checkpoint_keeps_and_restores_every_gpus_random_state(tmp_path, monkeypatch):
    """`random_states` saves the CUDA generators' states where CUDA is present (mocked here: two
    GPUs), a file written like a checkpoint's rng.pt reads back without pickle, and
    `restore_random_states` puts each back on its GPU, and the CPU's too."""
    import torch

    from ezv2_lite.checkpoint import random_states, restore_random_states

    gpu_states = [torch.arange(16, dtype=torch.uint8), torch.arange(16, 32, dtype=torch.uint8)]
    restored = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state_all", lambda: [s.clone() for s in gpu_states])
    monkeypatch.setattr(
        torch.cuda, "set_rng_state", lambda state, index: restored.__setitem__(index, state)
    )
    torch.manual_seed(5)
    torch.save(random_states(), tmp_path / "rng.pt")
    expected = torch.rand(3)
    states = torch.load(tmp_path / "rng.pt", weights_only=True)
    restore_random_states(states)
    assert torch.equal(torch.rand(3), expected)
    assert sorted(restored) == [0, 1] and all(
        torch.equal(restored[i], gpu_states[i]) for i in (0, 1)
    )


def test_training_sets_deterministic_kernels_and_the_precision_switches():
    import torch

    from ezv2_lite.config import override
    from ezv2_lite.model import set_numerics
    from ezv2_lite.presets import preset

    try:
        set_numerics(
            override(preset("cartpole"), runtime=dict(deterministic=True, tf32=False)),
            torch.device("cpu"),
        )
        assert torch.are_deterministic_algorithms_enabled() and torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark and not torch.backends.cuda.matmul.allow_tf32
        set_numerics(
            override(preset("cartpole"), runtime=dict(deterministic=False, tf32=True)),
            torch.device("cpu"),
        )
        assert (
            not torch.are_deterministic_algorithms_enabled()
            and torch.backends.cuda.matmul.allow_tf32
        )
    finally:
        set_numerics(preset("cartpole"), torch.device("cpu"))


@pytest.mark.slow
def test_a_resume_from_an_unreadable_latest_checkpoint_uses_the_one_before(tmp_path):
    """A `latest` whose model file was cut short is said in one line, and the run resumes from
    `previous` and finishes."""
    run = tmp_path / "run"
    result = cli(
        "train",
        *TINY,
        "--total-env-steps",
        "400",
        "--train.checkpoint-every-env-steps",
        "100",
        "--run-dir",
        str(run),
    )
    assert result.returncode == 0, result.stderr
    assert (run / "checkpoints" / "previous" / "COMPLETE").exists()
    model = run / "checkpoints" / "latest" / "model.pt"
    model.write_bytes(model.read_bytes()[:100])
    result = cli("train", "--resume", str(run), "--total-env-steps", "500", "--no-progress")
    assert result.returncode == 0, result.stderr
    notices = [
        line
        for line in result.stdout.splitlines()
        if "resuming from the checkpoint before it" in line
    ]
    assert len(notices) == 1 and "model.pt" in notices[0]
    assert metrics(run)[-1]["env_steps"] >= 500
    # the unreadable one is set apart, so that no later save can make it the fallback
    checkpoints = run / "checkpoints"
    assert (checkpoints / "latest.unreadable").is_dir()
    assert all((checkpoints / name / "COMPLETE").exists() for name in ("latest", "previous"))


def test_a_run_whose_weights_become_nan_stops_and_keeps_its_last_good_checkpoint(
    tmp_path, monkeypatch, capsys
):
    import torch

    from ezv2_lite.checkpoint import find_checkpoint, load_tensors
    from ezv2_lite.learner import Learner
    from ezv2_lite.tools import cli as ezv2_cli

    update = Learner.update

    def poisoned(self, batch, targets):  # a learning rate far too high, in one step
        if self.steps == 60:
            with torch.no_grad():
                next(self.model.parameters()).fill_(float("nan"))
        return update(self, batch, targets)

    monkeypatch.setattr(Learner, "update", poisoned)
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as stop:
        ezv2_cli.main(
            [
                "train",
                *TINY,
                "--total-env-steps",
                "1000",
                "--train.checkpoint-every-env-steps",
                "100",
                "--run-dir",
                str(run),
            ]
        )
    assert stop.value.code != 0
    message = capsys.readouterr().err.strip().splitlines()
    assert len(message) == 1 and (
        "stopped being finite" in message[0] or "the loss became nan" in message[0]
    )
    assert "kept its last good checkpoint" in message[0]
    state = json.loads((find_checkpoint(run) / "state.json").read_text())["counters"]
    assert 0 < state["train_steps"] <= 60
    weights = load_tensors(find_checkpoint(run), "model")
    assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())


@pytest.mark.slow
def test_a_run_killed_and_resumed_logs_each_line_once(tmp_path):
    """metrics.jsonl is cut back to the checkpoint's length on a resume: the lines the killed
    process logged after its checkpoint are logged again by the resumed run, once."""
    run = tmp_path / "run"
    args = [
        "train",
        *TINY,
        "--total-env-steps",
        "800",
        "--train.checkpoint-every-env-steps",
        "200",
        "--run-dir",
        str(run),
    ]
    process = subprocess.Popen(
        [sys.executable, "-m", "ezv2_lite.tools.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:  # a checkpoint, then more lines
        try:
            saved = json.loads((run / "checkpoints" / "latest" / "state.json").read_text())[
                "metrics_bytes"
            ]
            if (run / "metrics.jsonl").stat().st_size > saved:
                break
        except (OSError, ValueError):  # no checkpoint yet, or one being renamed
            pass
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert cli("train", "--resume", str(run), "--no-progress").returncode == 0
    reference = tmp_path / "reference"
    assert (
        cli(
            "train",
            *TINY,
            "--total-env-steps",
            "800",
            "--train.checkpoint-every-env-steps",
            "200",
            "--run-dir",
            str(reference),
        ).returncode
        == 0
    )
    keyed = lambda lines: [
        ("eval" if "eval_return_mean" in m else "loss", m["env_steps"], m["train_steps"])
        for m in lines
        if "total" in m or "eval_return_mean" in m
    ]
    assert keyed(metrics(run)) == keyed(metrics(reference))


def test_the_progress_bar_keeps_moving_once_learning_starts_and_its_eta_is_the_learning_phases(
    tmp_path, monkeypatch, capsys
):
    """On a clock where an actor step takes 1 ms and a learner step 0.5 s, the bar of the
    learning phase counts learner steps, is redrawn every second of it, and shows 2 learner
    steps/s and a time left of 0.5 s per learner step still to run: the fast acting before
    learning starts counts for nothing."""
    import re

    import tqdm.std

    from ezv2_lite import train as training
    from ezv2_lite.actor import Actor
    from ezv2_lite.tools.cli import config_from_args

    now = [time.time()]
    monkeypatch.setattr(tqdm.std, "time", lambda: now[0])
    monkeypatch.setattr("ezv2_lite.progress.to_a_file", lambda: False)  # drawn as in a terminal
    act, learn = Actor.step, training.learner_step

    def actor_step(*args, **kw):
        now[0] += 0.001
        return act(*args, **kw)

    def learner_step(*args, **kw):
        now[0] += 0.5
        return learn(*args, **kw)

    monkeypatch.setattr(Actor, "step", actor_step)
    monkeypatch.setattr(training, "learner_step", learner_step)
    config = config_from_args(
        [a for a in TINY if a != "--no-progress"] + ["--train.total-env-steps", "200"]
    )
    # 200 agent steps x 0.25: 50 learner steps
    training.train(config, tmp_path / "run", progress=True)

    drawn = re.split(r"[\r\n]", capsys.readouterr().err)
    assert any(re.match(r"acting: .*\d+/200 .*env step/s", line) for line in drawn)
    pattern = r"learning: .*\| (\d+)/(\d+) \[(\d+):(\d+)<(\d+):(\d+), +([\d.]+)learner step/s, env_steps=(\d+)/200"
    learning = [
        [float(x) for x in m.groups()] for m in map(re.search, [pattern] * len(drawn), drawn) if m
    ]
    assert len(learning) >= 15, drawn
    steps = [line[0] for line in learning]
    assert steps == sorted(steps) and len(set(steps)) >= 15 and learning[0][1] == 50
    for done, total, em, es, rm, rs, rate, env_steps in learning:
        elapsed, left = 60 * em + es, 60 * rm + rs
        assert rate == pytest.approx(2.0, abs=0.06)  # 0.5 s a learner step
        assert left == pytest.approx((total - done) * 0.5, abs=1.5)  # tqdm shows whole seconds
        assert elapsed == pytest.approx(done * 0.5, abs=1.5)  # since learning started
        assert 64 <= env_steps <= 200
    gaps = np.diff([60 * line[2] + line[3] for line in learning if line[0] < 50])
    assert gaps.max() <= 2  # redrawn every second (1 s, shown in whole seconds)


def test_observers_get_named_search_trees_and_frames_they_can_draw(tmp_path):
    """What a dashboard is sent: the search tree's actions carry CartPole's names, and the frame
    event's render() draws the first environment as a picture."""
    from ezv2_lite.config import override
    from ezv2_lite.presets import preset
    from ezv2_lite.train import train

    config = override(
        preset("cartpole"),
        search=dict(num_simulations=4),
        train=dict(
            total_env_steps=40,
            num_envs=2,
            start_transitions=10_000,
            eval_episodes=1,
            eval_every_env_steps=40,
            checkpoint_every_env_steps=40,
        ),
    )
    seen = {}

    def observer(event):
        if event.kind == "frame" and "picture" not in seen:
            seen["picture"] = event.data["render"]()
        if event.kind == "search":
            seen["names"] = event.data["trace"].action_names

    train(config, tmp_path / "run", observers=[observer], progress=False)
    assert seen["names"] == ["push left", "push right"]
    assert seen["picture"].shape == (400, 600, 3) and seen["picture"].std() > 5


@pytest.mark.slow
def test_progress_written_to_a_file_is_plain_lines(tmp_path):
    """With its output in a file (here a pipe), `train` writes its progress as a few whole lines,
    not a bar redrawn in place with carriage returns and cursor escapes."""
    result = cli(
        "train",
        *[a for a in TINY if a != "--no-progress"],
        "--total-env-steps",
        "400",
        "--run-dir",
        str(tmp_path / "run"),
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "\r" not in result.stderr and "\x1b[" not in result.stderr
    assert any(line.startswith("acting:") for line in lines) and any(
        line.startswith("learning:") for line in lines
    )
    assert len(lines) < 30, lines  # the evaluation's bar, too, writes a line at most every 30 s
    acting = [line for line in lines if line.startswith("acting:")]
    assert "100%" in acting[-1], acting  # acting ends where learning starts: done, not cut short


def test_progress_lines_turn_each_redraw_into_one_line():
    import io

    from ezv2_lite.progress import ProgressLines

    out = io.StringIO()
    lines = ProgressLines(out)
    for text in ("\rlearning:  10%|#", "\rlearning:  20%|##\x1b[A", "\r   \r", "\n"):
        lines.write(text)
    assert out.getvalue() == "learning:  10%|#\nlearning:  20%|##\n"


def test_a_notebook_bar_finished_short_of_its_total_ends_full_and_green(monkeypatch):
    """An episode over at step 6 of a 101-step cap: its bar reads 6/6, filled and green, not red at 6%."""
    from tqdm.notebook import tqdm as notebook_tqdm

    from ezv2_lite.progress import finish

    monkeypatch.setattr("ezv2_lite.progress.in_notebook", lambda: True)
    bar = notebook_tqdm(total=101, desc="playing one episode")
    bar.update(6)
    finish(bar)
    _, widget, _ = bar.container.children
    assert (widget.value, widget.max, widget.bar_style) == (6, 6, "success")

    cut = notebook_tqdm(total=101)  # and one really cut short still says so
    cut.update(6)
    cut.close()
    assert cut.container.children[1].bar_style == "danger"
