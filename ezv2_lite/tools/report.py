"""Reports of run directories: the learning curve (report.png), a summary table, and for
Atari the human-normalised score (paper §6.1) with its mean, median and IQM over runs.

The scores themselves (human_normalized, interquartile_mean) live in `evaluate.py`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..config import EnvConfig
from ..evaluate import human_normalized, interquartile_mean


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Every line of RUN_DIR/metrics.jsonl (a clear error when the file is missing)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        raise ValueError(f"{path} does not exist: give the directory of an `ezv2-lite train` run")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluations(metrics: list[dict]) -> list[dict]:
    return [m for m in metrics if "eval_return_mean" in m]


GYM_REWARD_BOUNDS = {
    "CartPole": (0.0, 1.0),  # +1 for every step the pole stays up
    "Acrobot": (-1.0, 0.0),  # -1 for every step before the goal, 0 at it
    "MountainCar": (-1.0, 0.0),  # -1 for every step (the discrete MountainCar-v0)
    # -(angle² + 0.1 speed² + 0.001 torque²)
    "Pendulum": (
        -(np.pi**2 + 0.1 * 8**2 + 0.001 * 2**2),
        0.0,
    ),
}
"""Per-step reward bounds of the Gymnasium classic-control tasks, by the id's name before `-v`."""


def return_bounds(env: EnvConfig) -> tuple[float, float] | None:
    """(lowest, highest) return an evaluation episode can have, where the environment fixes
    them: the per-step reward bounds times the evaluation time limit. They are known for
    DeepMind Control (every task's reward lies in [0, 1] per frame, Tassa et al. 2018; an
    episode is 1,000 frames) and for the Gymnasium tasks of GYM_REWARD_BOUNDS (with the id's
    own time limit unless env.eval_max_episode_steps sets one: CartPole-v1 gives [0, 500]).
    None elsewhere: Atari scores and other Gymnasium ids have no bound the report can know."""
    env = env.resolved()
    if env.suite == "dmc":
        assert env.eval_max_episode_steps is not None and env.action_repeat is not None
        return 0.0, float(env.eval_max_episode_steps * env.action_repeat)
    family = env.name.split("-v")[0]
    if env.suite != "gym" or family not in GYM_REWARD_BOUNDS:
        return None
    import gymnasium as gym

    try:
        steps = env.eval_max_episode_steps or gym.spec(env.name).max_episode_steps
    except gym.error.Error:  # (not a registered id)
        return None
    if steps is None:
        return None
    low, high = GYM_REWARD_BOUNDS[family]
    return low * steps, high * steps


def run_title(run_dir: str | Path) -> str:
    """What the run trained, from its config.json: `cartpole · CartPole-v1 · seed 0` (the
    folder's name when it has no config.json)."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        return Path(run_dir).resolve().name
    config = json.loads(path.read_text())
    parts = [config.get("preset"), config.get("env", {}).get("name")]
    if "seed" in config:
        parts.append(f"seed {config['seed']}")
    return " · ".join(str(p) for p in parts if p)


def write_learning_curve(
    run_dir: str | Path, title: str | None = None, references: dict[str, float] | None = None
) -> Path:
    """report.png: the learning curve (`learning_curve_figure`); returns its path."""
    import matplotlib.pyplot as plt

    fig = learning_curve_figure(run_dir, title, references)
    out = Path(run_dir) / "report.png"
    fig.savefig(out)
    plt.close(fig)
    return out


def learning_curve_figure(
    run_dir: str | Path, title: str | None = None, references: dict[str, float] | None = None
):
    """The learning curve (evaluation return mean ± std, and training episode returns, against
    env steps; titled `run_title` unless `title` is given; `references`: returns to compare
    with, by name, drawn as dashed lines, e.g. {"random policy": 0.4}) and, when the run logged them, its
    diagnostics against learner steps: the policy's sharpness at the roots (mean sigma or
    entropy), the policy target's mass on unvisited root actions, the share of SVE value
    targets, and the value and reward losses at each unroll step; and when its evaluations
    logged them, their root diagnostics (`_draw_root_diagnostics`). The ± std band is clipped
    to the returns the environment can give, where they are known (`return_bounds`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = read_metrics(run_dir)
    evals = evaluations(metrics)
    episodes = [m for m in metrics if "train_episode_return" in m]
    losses = [m for m in metrics if "value_by_step" in m]
    roots = [m for m in evals if "eval_root_value_std" in m]
    columns, rows = (3 if losses else 2 if roots else 1), (2 if roots else 1)
    fig, axes = plt.subplots(
        rows,
        columns,
        figsize=(5.2 * columns if columns > 1 else 7, 4 * rows),
        dpi=110,
        squeeze=False,
    )
    if roots:  # (panels with nothing to draw)
        for ax in [*axes[1, 2:], *([] if losses else [axes[0, 1]])]:
            ax.axis("off")
    ax = axes[0, 0]
    if episodes:
        ax.plot(
            [m["env_steps"] for m in episodes],
            [m["train_episode_return"] for m in episodes],
            ".",
            ms=2,
            alpha=0.35,
            color="tab:gray",
            label="training episodes",
        )
    if evals:
        x = [m["env_steps"] for m in evals]
        mean = np.array([m["eval_return_mean"] for m in evals])
        std = np.array([m["eval_return_std"] for m in evals])
        low, high = mean - std, mean + std
        bounds = _run_return_bounds(run_dir)
        if bounds is not None:
            low, high = np.clip(low, *bounds), np.clip(high, *bounds)
        ax.plot(x, mean, "o-", color="tab:blue", label="evaluation (mean ± std)")
        ax.fill_between(x, low, high, color="tab:blue", alpha=0.15)
    for (name, value), style in zip(
        (references or {}).items(), ("--", ":", "-.", (0, (1, 4))), strict=False
    ):
        ax.axhline(value, ls=style, color="black", lw=1, label=f"{name} ({value:g})")
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(title or run_title(run_dir))
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    if losses:
        _draw_diagnostics(axes[0, 1], axes[0, 2], losses)
    if roots:
        _draw_root_diagnostics(axes[1, 0], axes[1, 1], roots)
    fig.tight_layout()
    return fig


def _run_return_bounds(run_dir: str | Path) -> tuple[float, float] | None:
    from ..config import from_json

    path = Path(run_dir) / "config.json"
    return return_bounds(from_json(path.read_text()).env) if path.exists() else None


def _draw_diagnostics(search_ax, loss_ax, losses: list[dict]) -> None:
    """The diagnostics of the loss lines of metrics.jsonl, against learner steps."""
    import matplotlib.pyplot as plt

    steps = [m["train_steps"] for m in losses]
    if "root_policy_sigma" in losses[-1]:
        search_ax.plot(
            steps,
            [m["root_policy_sigma"] for m in losses],
            color="tab:purple",
            label="policy sigma at the roots (pre-tanh)",
        )
    else:
        search_ax.plot(
            steps,
            [m["root_policy_entropy"] for m in losses],
            color="tab:purple",
            label="policy entropy at the roots (nats)",
        )
    # (dashed and dotted, wider below: both are often 0 for a while, and one must not hide the other)
    search_ax.plot(
        steps,
        [m["unvisited_target_mass"] for m in losses],
        color="tab:red",
        lw=3,
        ls="--",
        label="target mass on unvisited actions",
    )
    search_ax.plot(
        steps,
        [m["sve_fraction"] for m in losses],
        color="tab:green",
        lw=1.5,
        ls=":",
        label="share of SVE value targets",
    )
    search_ax.set_xlabel("learner steps")
    search_ax.set_ylabel("sigma, nats or fraction")
    search_ax.set_title("policy and targets")
    search_ax.grid(alpha=0.3)
    search_ax.legend(loc="best", fontsize=7)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(losses[-1]["value_by_step"])))
    for k, color in enumerate(colors):
        loss_ax.plot(
            steps, [m["value_by_step"][k] for m in losses], color=color, label=f"value, k={k}"
        )
        if k >= 1:
            loss_ax.plot(
                steps,
                [m["reward_by_step"][k - 1] for m in losses],
                "--",
                color=color,
                label=f"reward, k={k}",
            )
    loss_ax.set_xlabel("learner steps")
    loss_ax.set_ylabel("cross-entropy")
    loss_ax.set_title("value (solid) and reward (dashed) loss by unroll step k")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(loc="best", fontsize=6, ncol=2)


def _draw_root_diagnostics(value_ax, action_ax, evals: list[dict]) -> None:
    """The evaluation lines' root diagnostics (`evaluate.RootDiagnostics`) against env steps:
    the value network's estimates at the roots (mean ± std), and the actions of the episodes'
    first steps (discrete: each action's share; continuous: the mean of the first action
    dimension at each of those steps, one line per evaluation, the last five)."""
    import matplotlib.pyplot as plt

    x = [m["env_steps"] for m in evals]
    mean = np.array([m["eval_root_value_mean"] for m in evals])
    std = np.array([m["eval_root_value_std"] for m in evals])
    value_ax.plot(x, mean, "o-", color="tab:orange", label="mean")
    value_ax.fill_between(
        x, mean - std, mean + std, color="tab:orange", alpha=0.2, label="± std (the spread)"
    )
    value_ax.set_xlabel("env steps")
    value_ax.set_ylabel("value network at the roots")
    value_ax.set_title("root values in evaluation")
    value_ax.grid(alpha=0.3)
    value_ax.legend(loc="best", fontsize=7)
    if "eval_first_action_shares" in evals[-1]:
        shares = np.array([m["eval_first_action_shares"] for m in evals])  # [evaluations, |A|]
        for a in range(shares.shape[1]):
            action_ax.plot(x, shares[:, a], "o-", ms=3, label=f"action {a}")
        action_ax.set_xlabel("env steps")
        action_ax.set_ylabel("share of the first steps' actions")
        action_ax.set_ylim(-0.02, 1.02)
    else:
        last = evals[-5:]
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(last)))
        for m, color in zip(last, colors, strict=True):
            first = np.array(m["eval_first_action_mean"])  # [first steps, A]
            action_ax.plot(
                np.arange(len(first)),
                first[:, 0],
                "o-",
                ms=3,
                color=color,
                label=f"at {m['env_steps']:,} env steps",
            )
        action_ax.axhline(0.0, color="black", lw=0.8)
        action_ax.set_xlabel("agent step in the episode")
        action_ax.set_ylabel("mean action (first dimension)")
        action_ax.set_ylim(-1.05, 1.05)
    action_ax.set_title("actions at the start of the evaluation episodes")
    action_ax.grid(alpha=0.3)
    action_ax.legend(loc="best", fontsize=7)


def summary(run_dir: str | Path) -> str:
    """A plain-text table of the evaluations of a run (with the value network's mean ± std at
    the evaluation's roots where the run logged them)."""
    evals = evaluations(read_metrics(run_dir))
    # (runs before the root diagnostics have none)
    roots = any("eval_root_value_std" in m for m in evals)
    lines = [
        f"{'env steps':>10} {'train steps':>11} {'wall s':>8} {'return':>16} {'episodes':>8}"
        + (f" {'root value':>17}" if roots else "")
    ]
    for m in evals:
        root = (
            f" {m['eval_root_value_mean']:>9.2f} ± {m['eval_root_value_std']:<5.2f}"
            if "eval_root_value_std" in m
            else ""
        )
        lines.append(
            f"{m['env_steps']:>10} {m['train_steps']:>11} {m['wall_s']:>8.0f} "
            f"{m['eval_return_mean']:>9.1f} ± {m['eval_return_std']:<5.1f} {m['eval_episodes']:>8}"
            + root
        )
    if not evals:
        lines.append("(no evaluation yet)")
    lines.append(evaluation_protocol(run_dir))
    return "\n".join(lines)


def evaluation_protocol(run_dir: str | Path) -> str:
    """One line: how the run's evaluation episodes were played (the time limit matters: an
    Atari game is scored over whole games up to 27,000 agent steps = 108,000 frames)."""
    from ..config import from_json

    env = from_json((Path(run_dir) / "config.json").read_text()).env.resolved()
    assert env.action_repeat is not None
    cap = (
        f"capped at {env.eval_max_episode_steps:,} agent steps "
        f"({env.eval_max_episode_steps * env.action_repeat:,} frames)"
        if env.eval_max_episode_steps
        else "with the environment's own time limit"
    )
    rewards = "raw rewards" + (
        ", whole games (no life-loss terminals)" if env.suite == "atari" else ""
    )
    return f"evaluation: whole episodes {cap}; {rewards}"


# ------------------------------------------------------------------------ Atari scores


def final_return(run_dir: str | Path) -> tuple[float, int]:
    """(mean return, env steps) of the run's last evaluation."""
    evals = evaluations(read_metrics(run_dir))
    if not evals:
        raise ValueError(f"{run_dir} has no evaluation yet: train longer or run `ezv2-lite eval`")
    return evals[-1]["eval_return_mean"], evals[-1]["env_steps"]


def atari_table(run_dirs: Sequence[str | Path]) -> str:
    """Per-run game, env steps, raw and human-normalised final score; mean, median and IQM
    of the normalised scores when there are several runs."""
    rows, normalized = (
        [f"{'run':<32} {'game':<16} {'env steps':>10} {'raw':>10} {'normalised':>10}"],
        [],
    )
    for run in run_dirs:
        config = json.loads((Path(run) / "config.json").read_text())
        game = config["env"]["name"]
        score, steps = final_return(run)
        hns = human_normalized(game, score)
        normalized.append(hns)
        rows.append(f"{Path(run).name:<32} {game:<16} {steps:>10} {score:>10.1f} {hns:>10.3f}")
    if len(normalized) > 1:
        rows.append(
            f"human-normalised over {len(normalized)} runs: mean {np.mean(normalized):.3f}, "
            f"median {np.median(normalized):.3f}, IQM {interquartile_mean(normalized):.3f}"
        )
    return "\n".join(rows)


def is_atari_run(run_dir: str | Path) -> bool:
    path = Path(run_dir) / "config.json"
    return path.exists() and json.loads(path.read_text())["env"]["suite"] == "atari"


def is_finished(run_dir: str | Path) -> bool:
    """The run's last evaluation is at its budget and after its last learner step."""
    run_dir = Path(run_dir)
    config_path = run_dir / "config.json"
    if not (config_path.exists() and (run_dir / "metrics.jsonl").exists()):
        return False
    total = json.loads(config_path.read_text())["train"]["total_env_steps"]
    lines = read_metrics(run_dir)
    evals = evaluations(lines)
    return (
        bool(evals)
        and evals[-1]["env_steps"] >= total
        and evals[-1]["train_steps"] >= max(line.get("train_steps", 0) for line in lines)
    )
