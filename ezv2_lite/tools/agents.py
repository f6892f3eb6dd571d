"""Shipped agents: a trained model's weights with its config and a model card, opened by name.

    agent = load_agent("cartpole")              # agents/cartpole in the repository, or a folder
    returns = evaluate(agent.model, agent.config, episodes=10, seed=0)

An agent is a folder:

    agents/NAME/
        model.safetensors   the online model's weights (safetensors: tensors only, no pickle),
                            float16 where that leaves the evaluation return unchanged
        config.json         the configuration it was trained with (`Config`, resolved)
        metrics.jsonl       the training run's log: its learning curve
        card.json           how it was made and what it scores (below); README.md says the same
                            for people

`export_agent` makes one from a run directory of `ezv2-lite train` (`ezv2-lite export`): it
evaluates the run's model on 10 episodes in float32 and in float16 and keeps float16 only when
every episode's return is unchanged (within 0.5 % of the largest return), then plays one more
episode on a fixed seed whose return the card records as the agent's check: `check_agent` plays
it again (one thread), and the return must land within the card's tolerance, 2 % of the return
plus 1. On the machine that exported it the episode is reproduced exactly; another CPU's
rounding can change an action late in an episode, which the tolerance allows for, while an agent
that plays worse misses it.
"""

from __future__ import annotations

import datetime
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from ..checkpoint import CheckpointError, find_checkpoint, load_tensors
from ..config import Config, ConfigError, from_json
from ..envs import probe_spec
from ..evaluate import evaluate
from ..model import build_model
from ..model.networks import EZModel
from .course import code_commit, repository_path

AGENTS = repository_path("agents")
"""Where the repository keeps its shipped agents (beside the package in a checkout installed with
`pip install -e .`, as the course's setup does)."""

EVALUATION_SEED = 1_000_003
"""The seed of an agent's 10-episode evaluation; its check episode uses EVALUATION_SEED + 100."""


@dataclass(frozen=True)
class Agent:
    """A shipped agent, ready to play: its model is float32, in eval mode, on the CPU."""

    name: str
    path: Path
    config: Config
    model: EZModel
    card: dict


def agent_path(name: str | Path) -> Path:
    """The folder of agent `name`: a folder holding card.json, or agents/NAME in the repository
    (a ConfigError listing the shipped agents when there is neither)."""
    for path in (Path(name), AGENTS / str(name)):
        if (path / "card.json").is_file():
            return path
    shipped = ", ".join(shipped_agents()) or "none"
    raise ConfigError(
        f"{str(name)!r} is not an agent: give the name of a shipped agent ({shipped}) or "
        "a folder made by `ezv2-lite export`"
    )


def shipped_agents() -> list[str]:
    """The names of the agents in the repository's agents/ folder."""
    return sorted(p.parent.name for p in AGENTS.glob("*/card.json"))


def load_agent(name: str | Path) -> Agent:
    """Agent `name` (see `agent_path`), its weights read from model.safetensors."""
    path = agent_path(name)
    config = from_json((path / "config.json").read_text())
    model = build_model(config, probe_spec(config.env, config.seed, "eval"))
    try:
        weights = load_file(path / "model.safetensors")
    except Exception as error:
        raise CheckpointError(f"cannot read {path / 'model.safetensors'}: {error}") from None
    model.load_state_dict(weights)  # (float16 weights are widened to the model's float32)
    return Agent(
        path.name, path, config, model.eval(), json.loads((path / "card.json").read_text())
    )


def check_agent(agent: Agent) -> tuple[float, bool]:
    """Play the card's check episode again on one thread, as it was recorded: (its return,
    whether it is within the card's tolerance)."""
    check, threads = agent.card["check"], torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        returned = float(evaluate(agent.model, agent.config, 1, seed=check["seed"])[0])
    finally:
        torch.set_num_threads(threads)
    return returned, abs(returned - check["return"]) <= check["tolerance"]


def newest_checkpoint(run_dir: Path) -> Path:
    """The newest complete checkpoint of a run, or a CheckpointError saying there is none yet."""
    try:
        return find_checkpoint(run_dir)
    except CheckpointError:
        raise CheckpointError(
            f"{run_dir} has written no complete checkpoint yet, so there is no model "
            "to use: let the run reach its first checkpoint (or its end)"
        ) from None


def run_model(
    run_dir: Path, checkpoint: Path | None = None
) -> tuple[Config, EZModel, dict[str, torch.Tensor]]:
    """(config, model in eval mode on the CPU, its float32 weights) of a run directory's newest
    checkpoint, or of `checkpoint` (RunState's model file alone)."""
    weights = load_tensors(checkpoint or newest_checkpoint(run_dir), "model")
    config = from_json((Path(run_dir) / "config.json").read_text())
    model = build_model(config, probe_spec(config.env, config.seed, "eval"))
    model.load_state_dict(weights)
    return config, model.eval(), weights


def _evaluation(model: EZModel, config: Config, episodes: int, seed: int) -> dict:
    returns = evaluate(model, config, episodes, seed=seed, progress=True)
    return {
        "episodes": episodes,
        "seed": seed,
        "mean": float(returns.mean()),
        "std": float(returns.std()),
        "returns": [round(float(r), 3) for r in returns],
    }


def _float16(model: EZModel) -> dict[str, torch.Tensor]:
    """The model's weights rounded to float16 (integer buffers kept as they are)."""
    return {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}


def export_agent(
    run_dir: str | Path,
    out: str | Path,
    command: str,
    trained_with: str | None = None,
    episodes: int = 10,
) -> dict:
    """Make agent folder `out` from the newest checkpoint of `run_dir`; return its card.

    `command` is the command that trained the run (the card's recipe); `trained_with`, the
    code version it ran (a commit; None: not known)."""
    run_dir, out = Path(run_dir), Path(out)
    if not (run_dir / "config.json").is_file():
        raise ConfigError(
            f"{run_dir} is not a run directory (no config.json): give the directory of "
            "an `ezv2-lite train` run"
        )
    # (read once: the card's counters are those of these weights)
    checkpoint = newest_checkpoint(run_dir)
    config, model, full_weights = run_model(run_dir, checkpoint)
    full = _evaluation(model, config, episodes, EVALUATION_SEED)
    half_weights = _float16(model)
    model.load_state_dict(half_weights)
    half = _evaluation(model, config, episodes, EVALUATION_SEED)
    scale = max(np.abs(full["returns"]).max(), 1.0)
    unchanged = np.abs(np.subtract(half["returns"], full["returns"])).max() <= 0.005 * scale
    if not unchanged:
        model.load_state_dict(full_weights)
    check_seed = EVALUATION_SEED + 100
    check_return = float(evaluate(model, config, 1, seed=check_seed)[0])
    evaluation = half if unchanged else full

    out.mkdir(parents=True, exist_ok=True)
    weights = half_weights if unchanged else {k: v.contiguous() for k, v in full_weights.items()}
    save_file(weights, out / "model.safetensors", metadata={"format": "pt"})
    shutil.copyfile(run_dir / "config.json", out / "config.json")
    shutil.copyfile(run_dir / "metrics.jsonl", out / "metrics.jsonl")
    counters = json.loads((checkpoint / "state.json").read_text())["counters"]
    trained = datetime.datetime.fromtimestamp(
        (checkpoint / "COMPLETE").stat().st_mtime, datetime.timezone.utc
    )
    card = {
        "name": out.name,
        "preset": config.preset,
        "environment": f"{config.env.suite}:{config.env.name}"
        + (" (pixels)" if config.env.pixels else ""),
        "command": command,
        "seed": config.seed,
        "env_steps": counters["agent_steps"] * config.env.action_repeat,
        "learner_steps": counters["train_steps"],
        "training_hours": round(counters["wall_s"] / 3600, 2),
        "trained": trained.date().isoformat(),
        "trained_with": trained_with,
        "exported_with": code_commit(),
        "weights": "float16" if unchanged else "float32",
        "evaluation": evaluation,
        "float32_evaluation_mean": full["mean"],
        "check": {
            "seed": check_seed,
            "episodes": 1,
            "return": round(check_return, 3),
            "tolerance": round(0.02 * abs(check_return) + 1, 3),
        },
        "size_bytes": (out / "model.safetensors").stat().st_size,
    }
    (out / "card.json").write_text(json.dumps(card, indent=1) + "\n")
    (out / "README.md").write_text(card_text(card))
    return card


def card_text(card: dict) -> str:
    """The model card for people (an agent folder's README.md)."""
    e = card["evaluation"]
    return (
        f"# {card['name']}\n\n"
        f"EfficientZero V2 (ezv2-lite preset `{card['preset']}`) on {card['environment']}, seed "
        f"{card['seed']}, trained for {card['env_steps']:,} environment steps ({card['learner_steps']:,} "
        f"learner steps, {card['training_hours']} h) on {card['trained']}"
        + (f" with commit `{card['trained_with'][:10]}`" if card.get("trained_with") else "")
        + ".\n\n"
        f"    {card['command']}\n\n"
        f"Evaluation: {e['mean']:.1f} ± {e['std']:.1f} (mean ± standard deviation of the return "
        f"over {e['episodes']} episodes, seed {e['seed']}), with {card['weights']} weights "
        f"(float32: {card['float32_evaluation_mean']:.1f}). Check: one episode on seed "
        f"{card['check']['seed']} returns {card['check']['return']} (tolerance "
        f"{card['check']['tolerance']}). Weights: {card['size_bytes'] / 1e6:.2f} MB.\n\n"
        f"    ezv2-lite eval {card['name']} --video {card['name']}.mp4\n"
    )


def agents_table() -> str:
    """The shipped agents as a markdown table (benchmarks/README.md holds it; `ezv2-lite agents`)."""
    rows = [
        "| agent | environment | trained by | env steps | evaluation (10 episodes) | weights |",
        "|---|---|---|---|---|---|",
    ]
    for name in shipped_agents():
        card = json.loads((AGENTS / name / "card.json").read_text())
        e = card["evaluation"]
        rows.append(
            f"| `{name}` | {card['environment']} | `{card['command']}` | {card['env_steps']:,} | "
            f"{e['mean']:.1f} ± {e['std']:.1f} | {card['size_bytes'] / 1e6:.2f} MB {card['weights']} |"
        )
    return "\n".join(rows)
