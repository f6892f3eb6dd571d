"""What an Atari agent does: the actions of its evaluation games, against random policies.

    python benchmarks/atari_actions.py runs/atari/learn-atari_small-Boxing-0

Plays a run's newest checkpoint in `--episodes` whole evaluation games (the run's evaluation
protocol: `ezv2_lite.evaluate.play`) and counts the actions it took and its steps that earned a
positive and a negative reward. Then plays three random policies, one game in each of the same
evaluation environments: uniform over all actions; uniform over the actions the agent took in at
least 1% of its steps; and the agent's own action frequencies, drawn afresh at every step. When a
random policy with the agent's frequencies scores what the agent scores, its return comes from
*which* actions it favours, not from *when* it takes them.

Writes benchmarks/results/atari-actions-<run name>.json. One CPU thread; with an `atari_small`
checkpoint, 10 Boxing games took about 90 s and the random policies' 30 games 40 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite

from ezv2_lite.config import Config  # noqa: E402
from ezv2_lite.envs import make_env, probe_spec  # noqa: E402
from ezv2_lite.evaluate import play  # noqa: E402
from ezv2_lite.tools.agents import newest_checkpoint, run_model  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def random_games(
    config: Config, probabilities: np.ndarray, episodes: int, seed: int
) -> list[float]:
    """Raw returns of one game in each evaluation environment `seed + i`, each action drawn
    independently with `probabilities` [A]."""
    rng = np.random.default_rng([seed, 3])
    returns = []
    for i in range(episodes):
        env = make_env(config.env, "eval", seed + i)
        env.reset()
        total, done = 0.0, False
        while not done:
            action = int(rng.choice(len(probabilities), p=probabilities))
            _, reward, terminated, truncated, _ = env.step(action)
            total, done = total + float(reward), terminated or truncated
        env.close()
        returns.append(total)
    return returns


def summary(returns: list[float]) -> dict:
    return {"mean": float(np.mean(returns)), "std": float(np.std(returns)), "returns": returns}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument(
        "--seed", type=int, default=20_000, help="the first evaluation environment's seed"
    )
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)

    # one checkpoint for the weights and the step count
    checkpoint = newest_checkpoint(args.run_dir)
    config, model, _ = run_model(args.run_dir, checkpoint)
    if config.env.suite != "atari":
        parser.error(f"{args.run_dir} is a {config.env.suite} run; this script reads Atari runs")
    agent_steps = json.loads((checkpoint / "state.json").read_text())["counters"]["agent_steps"]
    names = list(probe_spec(config.env, args.seed, "eval").action_names)

    start = time.perf_counter()
    counts = np.zeros(len(names), np.int64)
    returns, won, conceded = (
        np.zeros(args.episodes),
        np.zeros(args.episodes),
        np.zeros(args.episodes),
    )
    with closing(
        play(model, config, args.episodes, args.seed, progress=sys.stderr.isatty())
    ) as steps:
        for step in steps:
            counts[int(step.action)] += 1
            returns[step.episode] += step.reward
            won[step.episode] += step.reward > 0
            conceded[step.episode] += step.reward < 0
    agent_s = time.perf_counter() - start
    frequencies = counts / counts.sum()
    print(
        f"agent: {returns.mean():.1f} ± {returns.std():.1f} over {args.episodes} games ({agent_s:.0f} s)"
    )
    for i in np.argsort(-frequencies)[:8]:
        print(f"  {names[i]:<16} {frequencies[i]:6.1%}")

    used = (frequencies >= 0.01).astype(float)
    policies = {
        "uniform over all actions": np.full(len(names), 1 / len(names)),
        "uniform over the agent's actions": used / used.sum(),
        "the agent's frequencies": frequencies,
    }
    start = time.perf_counter()
    random = {}
    for name, probabilities in policies.items():
        random[name] = summary(random_games(config, probabilities, args.episodes, args.seed))
        print(f"random, {name}: {random[name]['mean']:.1f} ± {random[name]['std']:.1f}")

    result = {
        "benchmark": "atari_actions",
        "run": args.run_dir.name,
        "game": config.env.name,
        "checkpoint_env_steps": agent_steps * config.env.action_repeat,
        "episodes": args.episodes,
        "seed": args.seed,
        "agent": {
            **summary([float(r) for r in returns]),
            "positive_reward_steps": won.tolist(),
            "negative_reward_steps": conceded.tolist(),
            "wall_s": round(agent_s, 1),
            "action_frequencies": {
                n: round(float(f), 4) for n, f in zip(names, frequencies, strict=True)
            },
        },
        "random_policies": random,
        "random_wall_s": round(time.perf_counter() - start, 1),
    }
    out = args.out or ROOT / "benchmarks" / "results" / f"atari-actions-{args.run_dir.name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
