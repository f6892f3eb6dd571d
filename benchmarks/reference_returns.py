"""The returns a learning curve is read against: a uniformly random policy and, for continuous
actions, the policy that always outputs 0 ("do nothing"), under the evaluation protocol.

    python benchmarks/reference_returns.py                     # every task below
    python benchmarks/reference_returns.py --tasks minatar:Breakout --episodes 20

Writes benchmarks/results/reference-returns.json: for each task (`suite:name`) the mean, standard
deviation and count of its episodes' returns, and the seeds they used. DeepMind Control tasks are
played from state: the policies ignore what they observe, and the pixels show the same physics.
The pixel curves in README.md, benchmarks/README.md and notebooks 06 and 09 quote these numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout: ezv2_lite
from ezv2_lite.config import EnvConfig
from ezv2_lite.envs import make_env
from ezv2_lite.evaluate import policy_returns, random_policy_returns
from ezv2_lite.tools.bench import code_commit, machine_info

TASKS = [
    "gym:ezv2_lite.envs.examples:Catch-v0",
    "minatar:Asterix",
    "minatar:Breakout",
    "minatar:Freeway",
    "minatar:Seaquest",
    "minatar:SpaceInvaders",
    "dmc:cartpole-balance",
]
OUT = Path(__file__).resolve().parent / "results" / "reference-returns.json"


def summary(returns: np.ndarray, seed: int) -> dict:
    return {
        "mean": round(float(returns.mean()), 2),
        "std": round(float(returns.std()), 2),
        "episodes": len(returns),
        "seeds": [seed, seed + len(returns) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tasks", nargs="*", default=TASKS, help="suite:name (default: %(default)s)"
    )
    parser.add_argument("--episodes", type=int, default=100, help="per policy (DMC: a fifth of it)")
    parser.add_argument("--seed", type=int, default=10_000, help="of the first episode")
    args = parser.parse_args()
    results = json.loads(OUT.read_text()) if OUT.exists() else {"tasks": {}}
    results |= {
        "benchmark": "reference-returns",
        "machine": machine_info(1, "cpu"),
        "code_commit": code_commit(),
        "protocol": "evaluation episodes (raw rewards, the evaluation time limit); DMC from state",
    }
    for task in args.tasks:
        suite, name = task.split(":", 1)
        env_cfg = EnvConfig(suite=suite, name=name)
        episodes = max(1, args.episodes // 5) if suite == "dmc" else args.episodes
        entry = {"random": summary(random_policy_returns(env_cfg, episodes, args.seed), args.seed)}
        probe = make_env(env_cfg)
        if probe.action_space.shape:  # continuous: the do-nothing policy
            zero = np.zeros(probe.action_space.shape, np.float32)
            entry["zero_action"] = summary(
                policy_returns(env_cfg, lambda env, zero=zero: zero, episodes, args.seed), args.seed
            )
        probe.close()
        results["tasks"][task] = entry
        print(
            f"{task:40s} "
            + ", ".join(
                f"{k} {v['mean']:.2f} ± {v['std']:.2f} ({v['episodes']} episodes)"
                for k, v in entry.items()
            ),
            flush=True,
        )
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
