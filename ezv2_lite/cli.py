"""The `ezv2-lite` command line.

    ezv2-lite check-env [--preset NAME] [--env.suite S --env.name N ...] [--steps N]

Each command parses its own options with tyro from the same dataclasses the
Python API uses, so every config field can be overridden by its dotted name
(`--env.name walker-walk`, `--env.pixels`, `--seed 3`). Bad input ends with a
one-line `error:` message and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np
import tyro

from .config import Config, ConfigError, EnvConfig, preset, validate

USAGE = """usage: ezv2-lite COMMAND [OPTIONS]

commands:
  check-env   build an environment, print its spec, run a random policy, print steps/s
  bench       speed benchmarks: `ezv2-lite bench search` (JSON under benchmarks/results/)

Run `ezv2-lite COMMAND --help` for a command's options."""


def _split_preset(args: list[str]) -> tuple[Config, list[str]]:
    """Take `--preset NAME` (or `--preset=NAME`) out of `args`; return its Config and the rest."""
    rest, name = [], None
    i = 0
    while i < len(args):
        if args[i] == "--preset":
            if i + 1 >= len(args):
                raise ConfigError("--preset needs a name")
            name, i = args[i + 1], i + 2
            continue
        if args[i].startswith("--preset="):
            name = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return (preset(name) if name is not None else Config()), rest


def config_from_args(args: list[str], prog: str = "ezv2-lite") -> Config:
    """A validated Config from `[--preset NAME] [--section.field VALUE ...]` (tyro overrides)."""
    base, rest = _split_preset(args)
    return validate(tyro.cli(Config, default=base, args=rest, prog=prog))


# ------------------------------------------------------------------- check-env


@dataclass(frozen=True)
class CheckEnvArgs:
    """Build an environment from the config, print its spec, run a random policy."""

    env: EnvConfig = field(default_factory=EnvConfig)
    steps: int = 1000
    """Agent steps of the random policy."""
    seed: int = 0
    mode: Literal["train", "eval"] = "train"


def check_env(args: list[str]) -> None:
    base, rest = _split_preset(args)
    opts = tyro.cli(CheckEnvArgs, default=CheckEnvArgs(env=base.env, seed=base.seed), args=rest,
                    prog="ezv2-lite check-env")
    if opts.steps <= 0:
        raise ConfigError(f"--steps must be a positive integer (got {opts.steps})")
    validate(Config(env=opts.env))
    from .envs import env_spec, make_env

    cfg = opts.env.resolved()
    started = time.perf_counter()
    env = make_env(cfg, opts.mode, seed=opts.seed)
    obs, _ = env.reset()
    built = time.perf_counter() - started
    spec = env_spec(env, cfg)
    print(f"{cfg.suite}:{cfg.name} ({opts.mode} mode), built in {built:.2f} s")
    print(f"  {spec.describe()}")
    print(f"  first observation: dtype {obs.dtype}, shape {obs.shape}, "
          f"range [{obs.min():.3g}, {obs.max():.3g}]")

    returns, episode_return, episodes = [], 0.0, 0
    started = time.perf_counter()
    for _ in range(opts.steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        episode_return += float(reward)
        if terminated or truncated:
            returns.append(episode_return)
            episode_return, episodes = 0.0, episodes + 1
            obs, _ = env.reset()
    elapsed = time.perf_counter() - started
    env.close()
    rate = opts.steps / elapsed
    print(f"  random policy: {opts.steps} agent steps in {elapsed:.2f} s = {rate:,.0f} agent steps/s "
          f"({rate * spec.action_repeat:,.0f} env frames/s)")
    if returns:
        print(f"  {len(returns)} finished episodes, return mean {np.mean(returns):.2f} "
              f"(min {np.min(returns):.2f}, max {np.max(returns):.2f})")
    else:
        print(f"  no episode finished in {opts.steps} steps (current return {episode_return:.2f})")


# ----------------------------------------------------------------------- bench


def bench(args: list[str]) -> None:
    from . import bench as benchmarks

    kinds = {"search": (benchmarks.SearchBenchArgs, benchmarks.bench_search)}
    if not args or args[0] not in kinds:
        raise ValueError(f"usage: ezv2-lite bench {{{'|'.join(kinds)}}} [options]")
    cls, run = kinds[args[0]]
    run(tyro.cli(cls, args=args[1:], prog=f"ezv2-lite bench {args[0]}"))


COMMANDS: dict[str, Callable[[list[str]], None]] = {
    "check-env": check_env,
    "bench": bench,
}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"ezv2-lite: error: unknown command {command!r}; choose one of: "
              f"{', '.join(COMMANDS)}", file=sys.stderr)
        raise SystemExit(2)
    try:
        COMMANDS[command](rest)
    except (ConfigError, ValueError) as error:
        print(f"ezv2-lite {command}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
