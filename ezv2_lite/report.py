"""Reports of run directories: the learning curve (report.png), a summary table, and for
Atari the human-normalised score (paper §6.1) with its mean, median and IQM over runs.

The scores themselves (human_normalized, interquartile_mean) live in `evaluate.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .evaluate import human_normalized, interquartile_mean


def read_metrics(run_dir: str | Path) -> list[dict]:
    """Every line of RUN_DIR/metrics.jsonl (a clear error when the file is missing)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        raise ValueError(f"{path} does not exist: give the directory of an `ezv2-lite train` run")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def evaluations(metrics: list[dict]) -> list[dict]:
    return [m for m in metrics if "eval_return_mean" in m]


def write_learning_curve(run_dir: str | Path, title: str | None = None) -> Path:
    """report.png: the learning curve (evaluation return mean ± std and training episode
    returns against env steps) and, when the run logged them, its diagnostics against
    learner steps: the policy's sharpness at the roots (mean sigma or entropy), the policy
    target's mass on unvisited root actions, the share of SVE value targets, and the value
    and reward losses at each unroll step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = read_metrics(run_dir)
    evals = evaluations(metrics)
    episodes = [m for m in metrics if "train_episode_return" in m]
    losses = [m for m in metrics if "value_by_step" in m]
    panels = 3 if losses else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels if losses else 7, 4), dpi=110, squeeze=False)
    ax = axes[0, 0]
    if episodes:
        ax.plot([m["env_steps"] for m in episodes], [m["train_episode_return"] for m in episodes],
                ".", ms=2, alpha=0.35, color="tab:gray", label="training episodes")
    if evals:
        x = [m["env_steps"] for m in evals]
        mean = [m["eval_return_mean"] for m in evals]
        std = [m["eval_return_std"] for m in evals]
        ax.plot(x, mean, "o-", color="tab:blue", label="evaluation (mean ± std)")
        ax.fill_between(x, [a - b for a, b in zip(mean, std)], [a + b for a, b in zip(mean, std)],
                        color="tab:blue", alpha=0.15)
    ax.set_xlabel("env steps")
    ax.set_ylabel("return")
    ax.set_title(title or Path(run_dir).name)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    if losses:
        _draw_diagnostics(axes[0, 1], axes[0, 2], losses)
    fig.tight_layout()
    out = Path(run_dir) / "report.png"
    fig.savefig(out)
    plt.close(fig)
    return out


def _draw_diagnostics(search_ax, loss_ax, losses: list[dict]) -> None:
    """The diagnostics of the loss lines of metrics.jsonl, against learner steps."""
    import matplotlib.pyplot as plt

    steps = [m["train_steps"] for m in losses]
    if "root_policy_sigma" in losses[-1]:
        search_ax.plot(steps, [m["root_policy_sigma"] for m in losses], color="tab:purple",
                       label="policy sigma at the roots (pre-tanh)")
    else:
        search_ax.plot(steps, [m["root_policy_entropy"] for m in losses], color="tab:purple",
                       label="policy entropy at the roots (nats)")
    search_ax.plot(steps, [m["unvisited_target_mass"] for m in losses], color="tab:red",
                   label="target mass on unvisited actions")
    search_ax.plot(steps, [m["sve_fraction"] for m in losses], color="tab:green",
                   label="share of SVE value targets")
    search_ax.set_xlabel("learner steps")
    search_ax.set_ylabel("sigma, nats or fraction")
    search_ax.set_title("policy and targets")
    search_ax.grid(alpha=0.3)
    search_ax.legend(loc="best", fontsize=7)
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(losses[-1]["value_by_step"])))
    for k, color in enumerate(colors):
        loss_ax.plot(steps, [m["value_by_step"][k] for m in losses], color=color, label=f"value, k={k}")
        if k >= 1:
            loss_ax.plot(steps, [m["reward_by_step"][k - 1] for m in losses], "--", color=color,
                         label=f"reward, k={k}")
    loss_ax.set_xlabel("learner steps")
    loss_ax.set_ylabel("cross-entropy")
    loss_ax.set_title("value (solid) and reward (dashed) loss by unroll step k")
    loss_ax.grid(alpha=0.3)
    loss_ax.legend(loc="best", fontsize=6, ncol=2)


def summary(run_dir: str | Path) -> str:
    """A plain-text table of the evaluations of a run."""
    evals = evaluations(read_metrics(run_dir))
    lines = [f"{'env steps':>10} {'train steps':>11} {'wall s':>8} {'return':>16} {'episodes':>8}"]
    for m in evals:
        lines.append(f"{m['env_steps']:>10} {m['train_steps']:>11} {m['wall_s']:>8.0f} "
                     f"{m['eval_return_mean']:>9.1f} ± {m['eval_return_std']:<5.1f} {m['eval_episodes']:>8}")
    if not evals:
        lines.append("(no evaluation yet)")
    lines.append(evaluation_protocol(run_dir))
    return "\n".join(lines)


def evaluation_protocol(run_dir: str | Path) -> str:
    """One line: how the run's evaluation episodes were played (the time limit matters: an
    Atari game is scored over whole games up to 27,000 agent steps = 108,000 frames)."""
    from .config import from_json

    env = from_json((Path(run_dir) / "config.json").read_text()).env.resolved()
    cap = (f"capped at {env.eval_max_episode_steps:,} agent steps "
           f"({env.eval_max_episode_steps * env.action_repeat:,} frames)"
           if env.eval_max_episode_steps else "with the environment's own time limit")
    rewards = "raw rewards" + (", whole games (no life-loss terminals)" if env.suite == "atari" else "")
    return f"evaluation: whole episodes {cap}; {rewards}"


# ------------------------------------------------------------------------ Atari scores


def final_return(run_dir: str | Path) -> tuple[float, int]:
    """(mean return, env steps) of the run's last evaluation."""
    evals = evaluations(read_metrics(run_dir))
    if not evals:
        raise ValueError(f"{run_dir} has no evaluation yet: train longer or run `ezv2-lite eval`")
    return evals[-1]["eval_return_mean"], evals[-1]["env_steps"]


def atari_table(run_dirs: list[str | Path]) -> str:
    """Per-run game, env steps, raw and human-normalised final score; mean, median and IQM
    of the normalised scores when there are several runs."""
    rows, normalized = [f"{'run':<32} {'game':<16} {'env steps':>10} {'raw':>10} {'normalised':>10}"], []
    for run in run_dirs:
        config = json.loads((Path(run) / "config.json").read_text())
        game = config["env"]["name"]
        score, steps = final_return(run)
        hns = human_normalized(game, score)
        normalized.append(hns)
        rows.append(f"{Path(run).name:<32} {game:<16} {steps:>10} {score:>10.1f} {hns:>10.3f}")
    if len(normalized) > 1:
        rows.append(f"human-normalised over {len(normalized)} runs: mean {np.mean(normalized):.3f}, "
                    f"median {np.median(normalized):.3f}, IQM {interquartile_mean(normalized):.3f}")
    return "\n".join(rows)


def is_atari_run(run_dir: str | Path) -> bool:
    path = Path(run_dir) / "config.json"
    return path.exists() and json.loads(path.read_text())["env"]["suite"] == "atari"
