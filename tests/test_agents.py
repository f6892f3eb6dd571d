"""Shipped agents (open by name, reproduce their check episode), agent videos, TensorBoard."""

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny_training import TINY_TRAINING

from ezv2_lite.checkpoint import find_checkpoint, load_tensors
from ezv2_lite.tools.agents import AGENTS, agents_table, check_agent, load_agent, shipped_agents
from ezv2_lite.tools.video import BAND

TINY = [
    "--preset",
    "cartpole",
    *TINY_TRAINING,
    *"--train.eval-every-env-steps 100 --train.log-every-env-steps 50".split(),
    *"--train.offline-train-steps 0 --no-progress".split(),
]

COURSE_AGENTS = {"cartpole", "pendulum", "walker-stand"}
"""The agents the notebooks open by name."""


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "ezv2_lite.tools.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_the_course_agents_are_shipped_and_small():
    assert COURSE_AGENTS <= set(shipped_agents())
    size = sum(f.stat().st_size for f in AGENTS.rglob("*") if f.is_file())
    assert size < 40e6, f"agents/ holds {size / 1e6:.1f} MB"


@pytest.mark.slow
@pytest.mark.parametrize("name", shipped_agents())
def test_a_shipped_agent_opens_by_name_and_plays_its_check_episode_again(name):
    agent = load_agent(name)
    card = agent.card
    assert (
        card["name"] == name and card["env_steps"] > 0 and card["command"].startswith("ezv2-lite ")
    )
    assert all(p.dtype == torch.float32 for p in agent.model.parameters())  # float16 files widen
    returned, within = check_agent(agent)
    assert within, (
        f"{name}: the check episode returned {returned}, the card says "
        f"{card['check']['return']} ± {card['check']['tolerance']}"
    )


REFERENCE_RETURNS = (
    Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "reference-returns.json"
)
WITHDRAWN = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "withdrawn-agents"


def beaten_references(card: dict) -> dict[str, tuple[float, float]]:
    """{reference policy: (its mean return, the agent's card evaluation)} for the policies of the
    agent's task in reference-returns.json (random, and for DMC the one that always outputs 0) that
    the card's evaluation does *not* beat."""
    task = card["environment"].removesuffix(" (pixels)")
    references = json.loads(REFERENCE_RETURNS.read_text())["tasks"].get(task, {})
    return {
        name: (ref["mean"], card["evaluation"]["mean"])
        for name, ref in references.items()
        if card["evaluation"]["mean"] <= ref["mean"]
    }


@pytest.mark.parametrize("name", shipped_agents())
def test_a_shipped_agent_beats_the_reference_policies_of_its_task(name):
    assert not beaten_references(load_agent(name).card), f"{name} ships below a reference policy"


def test_the_withdrawn_pixel_agent_is_below_doing_nothing_and_not_shipped():
    """The check above can fail: the DMC pixel agent it would have failed is no longer shipped."""
    card = json.loads((WITHDRAWN / "cartpole-balance-pixels" / "card.json").read_text())
    assert (
        "zero_action" in beaten_references(card)
        and "cartpole-balance-pixels" not in shipped_agents()
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("runs") / "tiny"
    result = cli(
        "train", *TINY, "--total-env-steps", "200", "--tensorboard-videos", "--run-dir", str(run)
    )
    assert result.returncode == 0, result.stderr
    return run


@pytest.mark.slow
def test_export_writes_safe_weights_a_card_and_an_agent_eval_opens(tiny_run, tmp_path):
    out = tmp_path / "agents" / "tiny"
    result = cli(
        "export", str(tiny_run), str(out), "--command", "ezv2-lite train --preset cartpole"
    )
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out.iterdir()} == {
        "model.safetensors",
        "config.json",
        "metrics.jsonl",
        "card.json",
        "README.md",
    }
    card = json.loads((out / "card.json").read_text())
    assert card["env_steps"] == 200 and card["evaluation"]["episodes"] == 10
    assert card["size_bytes"] == (out / "model.safetensors").stat().st_size
    # the weights are the checkpoint's, at most rounded to float16
    weights = load_file(out / "model.safetensors")
    trained = load_tensors(find_checkpoint(tiny_run), "model")
    assert weights.keys() == trained.keys()
    for key, value in trained.items():
        assert torch.allclose(weights[key].float(), value.float(), rtol=1e-3, atol=1e-4), key
    stored = torch.float16 if card["weights"] == "float16" else torch.float32
    assert all(v.dtype == stored for v in weights.values() if v.is_floating_point())
    result = cli("eval", str(out), "--episodes", "2")
    assert result.returncode == 0 and "2 evaluation episodes from seed" in result.stdout, (
        result.stderr
    )
    # a seed of one's own: episodes from it, and the same episodes again from the same seed
    first, again = (cli("eval", str(out), "--episodes", "2", "--seed", "123") for _ in range(2))
    assert first.returncode == 0 and "from seed 123, return" in first.stdout, first.stderr
    assert first.stdout.split("return")[1] == again.stdout.split("return")[1]
    agent = load_agent(out)
    returned, within = check_agent(agent)
    assert within and returned == card["check"]["return"]  # the same machine: the same episode


@pytest.mark.slow
def test_eval_records_a_captioned_video_of_its_episodes(tiny_run, tmp_path):
    gif, mp4 = tmp_path / "agent.gif", tmp_path / "agent.mp4"
    result = cli("eval", str(tiny_run), "--episodes", "2", "--video", str(gif))
    assert result.returncode == 0, result.stderr
    returns = [
        float(x)
        for x in result.stdout.split("(min ")[1].split(")")[0].replace("max ", "").split(", ")
    ]
    frames = iio.imread(gif, index=None)
    # CartPole pays 1 per step: the episodes' lengths are their returns, one frame per step
    assert frames.shape[0] == round(sum(returns)), (frames.shape, returns)
    assert frames.shape[2] >= 320 and frames.shape[1] > BAND  # enlarged to at least 320 px wide
    band = frames[0, :BAND, :, :3]
    assert (band.max(axis=-1) > 200).sum() > 50  # white caption text on the dark band
    assert np.median(frames[0, BAND:, :, :3]) > 200  # CartPole's white background below it
    assert cli("eval", str(tiny_run), "--video", str(mp4)).returncode == 0
    assert iio.imread(mp4, index=None).shape[0] >= 1


@pytest.mark.slow
def test_videos_in_tensorboard_leave_the_runs_numbers_as_they_were(tiny_run, tmp_path):
    plain = tmp_path / "plain"
    assert cli("train", *TINY, "--total-env-steps", "200", "--run-dir", str(plain)).returncode == 0
    numbers = lambda run: [
        {k: v for k, v in json.loads(line).items() if k != "wall_s"}
        for line in (run / "metrics.jsonl").read_text().splitlines()
    ]
    assert numbers(plain) == numbers(tiny_run)


def _event_scalars(run, tag):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


@pytest.mark.slow
def test_tensorboard_asked_for_on_a_resume_holds_the_whole_run_once(tmp_path):
    run = tmp_path / "run"
    assert cli("train", *TINY, "--total-env-steps", "200", "--run-dir", str(run)).returncode == 0
    assert (
        cli(
            "train",
            "--resume",
            str(run),
            "--total-env-steps",
            "300",
            "--tensorboard",
            "--no-progress",
        ).returncode
        == 0
    )
    assert (
        cli(
            "train",
            "--resume",
            str(run),
            "--total-env-steps",
            "400",
            "--tensorboard",
            "--no-progress",
        ).returncode
        == 0
    )
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [(m["env_steps"], m["eval_return_mean"]) for m in lines if "eval_return_mean" in m]
    served = _event_scalars(run, "eval_return_mean")
    assert [s for s, _ in served] == [s for s, _ in logged] and max(s for s, _ in served) == 400
    assert np.allclose([v for _, v in served], [v for _, v in logged])


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval", "no-such-agent"], "not a run directory"),
        (["eval", "cartpole", "--video", "out.avi"], "ending in .mp4 or .gif"),
        (["eval", "cartpole", "--video", "no/such/folder/out.gif"], "does not exist"),
        (["eval", "cartpole", "--seed", "-1"], "--seed must be an integer of at least 0 (got -1)"),
        (
            ["eval", "cartpole", "--seed", "abc"],
            "--seed must be an integer of at least 0 (got 'abc')",
        ),
        (["eval", "cartpole", "--seed"], "--seed needs a value"),
        (["export", "no-such-run", "out", "--command", "x"], "not a run directory"),
    ],
)
def test_bad_agent_input_is_a_one_line_error(args, message):
    result = cli(*args)
    assert (
        result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    ), result.stderr


@pytest.mark.slow
def test_a_run_without_a_checkpoint_yet_says_so(tmp_path):
    from ezv2_lite.config import to_json
    from ezv2_lite.presets import preset

    (tmp_path / "config.json").write_text(to_json(preset("cartpole").resolved()))
    for args in (
        ["eval", str(tmp_path)],
        ["export", str(tmp_path), str(tmp_path / "agent"), "--command", "x"],
    ):
        result = cli(*args)
        message = "has written no complete checkpoint yet"
        assert (
            result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
        ), result.stderr


def test_tensorboard_serves_the_runs_scalars_and_evaluation_videos(tiny_run, free_port):
    lines = [json.loads(line) for line in (tiny_run / "metrics.jsonl").read_text().splitlines()]
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "tensorboard"),
            "--logdir",
            str(tiny_run),
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, tags = time.time() + 120, {}
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/data/plugin/scalars/tags"
                ) as r:
                    tags = json.load(r).get("tensorboard", {})
                if tags:
                    break
            except OSError:
                pass
            time.sleep(1)
        assert {"total", "eval_return_mean", "train_episode_return"} <= set(tags), tags
        url = f"http://127.0.0.1:{port}/data/plugin/scalars/scalars?run=tensorboard&tag=eval_return_mean"
        with urllib.request.urlopen(url) as r:
            served = [(step, value) for _, step, value in json.load(r)]
        logged = [(m["env_steps"], m["eval_return_mean"]) for m in lines if "eval_return_mean" in m]
        assert [s for s, _ in served] == [s for s, _ in logged]
        assert np.allclose([v for _, v in served], [v for _, v in logged])
        # an evaluation episode as an animated GIF after each evaluation (the Images tab)
        url = f"http://127.0.0.1:{port}/data/plugin/images/images?run=tensorboard&tag=eval_video&sample=0"
        with urllib.request.urlopen(url) as r:
            videos = json.load(r)
        assert [v["step"] for v in videos] == [s for s, _ in logged]
        url = f"http://127.0.0.1:{port}/data/plugin/images/individualImage?{videos[-1]['query']}"
        with urllib.request.urlopen(url) as r:
            gif = r.read()
        assert gif[:6] == b"GIF89a" and iio.imread(gif, index=None, extension=".gif").shape[0] >= 2
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_benchmarks_readme_lists_the_shipped_agents_as_their_cards_say():
    readme = (AGENTS.parent / "benchmarks" / "README.md").read_text()
    assert agents_table() in readme, (
        "run `ezv2-lite agents` and put its table in benchmarks/README.md"
    )
