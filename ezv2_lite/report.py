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
    """Plot evaluation return (mean ± std) and training episode returns against env steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = read_metrics(run_dir)
    evals = evaluations(metrics)
    episodes = [m for m in metrics if "train_episode_return" in m]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
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
    fig.tight_layout()
    out = Path(run_dir) / "report.png"
    fig.savefig(out)
    plt.close(fig)
    return out


def summary(run_dir: str | Path) -> str:
    """A plain-text table of the evaluations of a run."""
    evals = evaluations(read_metrics(run_dir))
    lines = [f"{'env steps':>10} {'train steps':>11} {'wall s':>8} {'return':>16} {'episodes':>8}"]
    for m in evals:
        lines.append(f"{m['env_steps']:>10} {m['train_steps']:>11} {m['wall_s']:>8.0f} "
                     f"{m['eval_return_mean']:>9.1f} ± {m['eval_return_std']:<5.1f} {m['eval_episodes']:>8}")
    if not evals:
        lines.append("(no evaluation yet)")
    return "\n".join(lines)


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
