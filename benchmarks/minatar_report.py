"""The MinAtar benchmark's report: each game's learning curves beside its random policy and DQN.

    python benchmarks/minatar_report.py          # reads benchmarks/results/learn-minatar-*.json

Reads the `ezv2-lite bench learn --preset minatar` results (one file a game and seed), the random
policy's returns (benchmarks/reference_returns.py) and DQN's published returns at 100,000 and
1,000,000 frames (ezv2_lite/data/baselines.csv: read from the MinAtar paper's curves; a MinAtar
frame is one agent step). Writes benchmarks/results/minatar.json, the table of final evaluations,
and minatar.png, the curves. The goal of the `minatar` preset: after 100,000 agent steps, beat
DQN's return after 1,000,000 on at least 3 of the 5 games (the mean over the finished seeds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite
from ezv2_lite.config import EnvConfig
from ezv2_lite.envs.minatar import GAMES
from ezv2_lite.tools.sweep_report import published_baselines

RESULTS = Path(__file__).resolve().parent / "results"


def game_rows(game: str) -> dict:
    runs = [json.loads(p.read_text()) for p in sorted(RESULTS.glob(f"learn-minatar-{game}-*.json"))]
    references = json.loads((RESULTS / "reference-returns.json").read_text())["tasks"]
    dqn = {
        int(row["x"]): float(row["mean"])
        for row in published_baselines(EnvConfig(suite="minatar", name=game))
    }
    finished = [run for run in runs if run["finished"]]
    finals = {run["seed"]: run["evaluations"][-1]["eval_return_mean"] for run in finished}
    mean = sum(finals.values()) / len(finals) if finals else None
    return {
        "game": game,
        "random": references[f"minatar:{game}"]["random"]["mean"],
        "dqn_100k": dqn.get(100_000),
        "dqn_1m": dqn.get(1_000_000),
        "final_by_seed": finals,
        "final_mean": mean,
        "in_progress": {run["seed"]: run["env_steps_done"] for run in runs if not run["finished"]},
        "beats_dqn_1m": None if mean is None else mean > dqn.get(1_000_000, float("inf")),
        "curves": {
            run["seed"]: [(e["env_steps"], e["eval_return_mean"]) for e in run["evaluations"]]
            for run in runs
        },
    }


def figure(rows: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.2), dpi=110)
    for ax, row in zip(axes, rows, strict=True):
        for seed, curve in sorted(row["curves"].items()):
            if curve:
                x, y = zip(*curve, strict=True)
                ax.plot(x, y, "o-", ms=3, label=f"EZ-V2 minatar, seed {seed}")
        ax.axhline(row["random"], ls="--", color="gray", lw=1, label="random policy")
        if row["dqn_1m"] is not None:
            ax.axhline(row["dqn_1m"], ls=":", color="black", lw=1, label="DQN at 1,000,000 steps")
        if row["dqn_100k"] is not None:
            ax.plot([100_000], [row["dqn_100k"]], "x", color="black", label="DQN at 100,000 steps")
        ax.set_title(row["game"])
        ax.set_xlabel("agent steps")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("evaluation return (mean of 10 episodes)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=8)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    fig.savefig(out)
    plt.close(fig)


def main() -> None:
    rows = [game_rows(game) for game in GAMES]
    met = [row["game"] for row in rows if row["beats_dqn_1m"]]
    decided = [row["game"] for row in rows if row["beats_dqn_1m"] is not None]
    verdict = (
        "met" if len(met) >= 3 else "missed" if len(decided) - len(met) > 2 else "not decided yet"
    )
    summary = {
        "benchmark": "minatar",
        "goal": "beat DQN's 1,000,000-step return on at least 3 of 5 games "
        "after 100,000 agent steps (mean of the finished seeds)",
        "games_beating_dqn_1m": met,
        "verdict": verdict,
        "games": [{k: v for k, v in row.items() if k != "curves"} for row in rows],
    }
    (RESULTS / "minatar.json").write_text(json.dumps(summary, indent=2) + "\n")
    figure(rows, RESULTS / "minatar.png")
    print(f"{'game':14s} {'random':>7s} {'DQN 100k':>9s} {'DQN 1M':>7s}  EZ-V2 at 100k by seed")
    for row in rows:
        seeds = ", ".join(f"{s}: {v:.1f}" for s, v in sorted(row["final_by_seed"].items())) or "—"
        going = ", ".join(f"seed {s} at {n:,}" for s, n in row["in_progress"].items())
        print(
            f"{row['game']:14s} {row['random']:7.2f} {row['dqn_100k']:9.1f} {row['dqn_1m']:7.1f}  {seeds}"
            + (f" (running: {going})" if going else "")
        )
    print(f"goal (3 of 5 games above DQN at 1M): {verdict}; above: {', '.join(met) or 'none'}")
    print(f"wrote {RESULTS / 'minatar.json'} and minatar.png")


if __name__ == "__main__":
    main()
