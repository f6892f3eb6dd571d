"""Benchmarks behind `ezv2-lite bench ...`; results are JSON files under benchmarks/results/.

They live in the package (`ezv2-lite bench` works wherever it is installed); run them from a
checkout of the repository, whose benchmarks/results/ they read and write.

    ezv2-lite bench search [--presets dmc_state atari] [--batches 1 4 256 1536] [--repeats 5]
    ezv2-lite bench learner [--presets dmc_state cartpole] [--repeats 5]
    ezv2-lite bench acting [--presets cartpole pendulum dmc_state] [--steps 30]
    ezv2-lite bench e2e [--presets cartpole pendulum dmc_state] [--env-steps ...]
    ezv2-lite bench train-rate RUN_DIR      # env and learner steps per second of a training run

`learner` times whole learner steps (sample, reanalyse with the target model,
update) on a replay filled by a random policy in the preset's real environment
(DMC walker-walk from state for `dmc_state`).

`search` times one call of the batched search (after the roots' representation
pass, which the caller has anyway) on networks of the preset's full size with
random weights, one thread, and reports the median of `repeats` calls after a
warm-up call. Figures of other implementations measured on this machine kind
(timed by this project on the same machine kind) are stored beside ours for comparison.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import tyro

from ezv2_lite import accel  # noqa: F401  (registers the faster model steps: runtime.fused_inference, runtime.compile_step)
from ezv2_lite.config import override
from ezv2_lite.envs import EnvSpec
from ezv2_lite.model import build_model, resolve_device
from ezv2_lite.presets import preset
from ezv2_lite.search import search, search_budget
from ezv2_lite.tools.course import (  # (code_commit is also imported from here by the benchmarks)
    code_commit,  # noqa: F401
    repository_path,
)

# Shapes of the benchmark tasks: DMC walker from state (24 numbers, 6 joints),
# an Atari game with the full 18-action set.
BENCH_SPECS = {
    "dmc_state": EnvSpec((24,), "float32", "continuous", None, 6, 2, 1),
    "dmc_image": EnvSpec((12, 96, 96), "uint8", "continuous", None, 6, 2, 4),
    "atari": EnvSpec((12, 96, 96), "uint8", "discrete", 18, None, 4, 4),
    "cartpole": EnvSpec((4,), "float32", "discrete", 2, None, 1, 1),
    "pendulum": EnvSpec((3,), "float32", "continuous", None, 1, 1, 1),
    "dmc_image_small": EnvSpec((12, 64, 64), "uint8", "continuous", None, 1, 8, 4),
    "minatar": EnvSpec((10, 10, 10), "uint8", "discrete", 6, None, 1, 1),
    "catch": EnvSpec((3, 32, 32), "uint8", "discrete", 3, None, 1, 1),
}
"""The spaces of each preset's benchmark task (BENCH_TASKS), for benchmarks that need no
environment: the search's, and the learner's with `--replay synthetic`."""

# The task each preset is benchmarked on by the learner, acting and end-to-end benchmarks.
BENCH_TASKS = {
    "cartpole": "CartPole-v1",
    "pendulum": "Pendulum-v1",
    "dmc_state": "walker-walk",
    "atari": "Pong",
    "dmc_image": "walker-walk",
    "dmc_image_small": "cartpole-balance",
    "minatar": "Seaquest",
    "catch": "ezv2_lite.envs.examples:Catch-v0",
}

# The authors' released search (Cython tree + PyTorch, 1 thread, random weights), timed by
# this project on the 2-core machine kind its benchmarks run on, in ms per call, and the
# goals ezv2-lite set itself: a first search within 5x (dmc_state) of it, then 10x faster
# than it at batch 1 and 3x at batch 256.
REFERENCE_MS = {
    "dmc_state": {
        "authors": {1: 86.0, 256: 362.0},
        "goal, first search": {1: 17.0, 256: 180.0},
        "goal, 10x and 3x faster": {1: 8.6, 256: 120.7},
    },
    "atari": {"authors": {1: 99.0, 256: 1191.0}, "goal, first search": {1: 20.0, 256: 800.0}},
}


@dataclass
class SearchBenchArgs:
    """Time one batched search call per preset and batch size."""

    presets: tuple[str, ...] = ("dmc_state", "atari")
    batches: tuple[int, ...] = (1, 4, 256, 1536)
    repeats: int = 5
    """Timed calls per setting (after one warm-up call); the median is reported."""
    threads: int = 1
    out: str = "benchmarks/results/search.json"
    seed: int = 0
    profile: bool = False
    """Also profile one more call per setting with torch.profiler: the operators taking the most
    self CPU time, and how much of the call all torch operators take (the rest is Python)."""
    device: str = "cpu"
    """cpu, cuda or auto: where the model and the search trees live (timers wait for the device)."""
    compile_step: bool = False
    """Also time the search with runtime.compile_step (accel/compiled.py); its first call, which
    compiles, is reported apart as compiled_first_call_ms."""


def _write(results: dict, out: str, log) -> dict:
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {path}")
    return results


def machine_info(threads: int, device: str = "cpu") -> dict:
    """What a benchmark ran on, stored beside its figures."""
    return {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": threads,
        "device": device,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def synchronize(device: torch.device) -> None:
    """Wait for the work queued on `device` (a GPU runs asynchronously: a timer must wait)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_ms(fn, device: torch.device) -> float:
    """Milliseconds of one call of `fn`, from an idle device until the device is done."""
    synchronize(device)
    started = time.perf_counter()
    fn()
    synchronize(device)
    return (time.perf_counter() - started) * 1000


@torch.no_grad()
def matmul_gflops(
    threads: int,
    sizes: tuple[int, ...] = (1024, 2048),
    repeats: int = 5,
    device: torch.device | None = None,
) -> dict:
    """This machine's dense float32 matrix-multiply rate on `device`, the reference limit of
    the learner's arithmetic.

    Times `torch.mm` of two random n x n float32 matrices (2 n^3 floating-point
    operations) with `threads` threads (on a CPU); reports every size's median GFLOP/s over
    `repeats` calls after a warm-up and, as `gflops`, the best of those medians.
    Measure it in the same run as the figure it is compared with: these machines
    are shared, so a rate from another run may differ by tens of percent.
    """
    device = device or torch.device("cpu")
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        by_size = {}
        for n in sizes:
            a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
            out = torch.empty(n, n, device=device)
            rates = []
            for call in range(repeats + 1):
                elapsed = timed_ms(partial(torch.mm, a, b, out=out), device) / 1000
                if call:
                    rates.append(2 * n**3 / elapsed / 1e9)
            by_size[str(n)] = round(statistics.median(rates), 1)
    finally:
        torch.set_num_threads(previous)
    return {
        "gflops": max(by_size.values()),
        "median_gflops_by_size": by_size,
        "threads": threads,
        "method": f"torch.mm float32, median of {repeats} after a warm-up",
    }


@torch.no_grad()
def profile_call(fn, top: int = 12) -> dict:
    """One call of `fn` under torch.profiler: its wall time, the self CPU time of all torch
    operators together, and the `top` operators by self CPU time."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        started = time.perf_counter()
        fn()
        wall = time.perf_counter() - started
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    return {
        "wall_ms": round(wall * 1000, 2),
        "torch_ops_ms": round(sum(e.self_cpu_time_total for e in events) / 1000, 2),
        "top_ops": [
            {"name": e.key, "calls": e.count, "self_cpu_ms": round(e.self_cpu_time_total / 1000, 3)}
            for e in events[:top]
        ],
    }


@torch.no_grad()
def _inference_ms(model, root, simulations: int, repeats: int) -> float:
    """Median time of the search's network work alone: `simulations` recurrent inferences
    of the whole batch with their scalar decoding (what the tree code adds is the rest)."""
    batch, device = root.latent.shape[0], root.latent.device
    spec = model.spec
    action = (
        torch.zeros(batch, dtype=torch.long, device=device)
        if spec.is_discrete
        else torch.zeros(batch, spec.action_dim, device=device)
    )
    hidden = model.initial_hidden(batch, device)

    def inferences():
        for _ in range(simulations):
            model.scalar_value_reward(model.recurrent(root.latent, action, hidden))

    times = [timed_ms(inferences, device) for _ in range(repeats + 1)]
    return statistics.median(times[1:])


def _same_choices(model, root, readable, faster) -> bool:
    """Whether a seeded search chooses the same root actions with the faster setting."""
    slots = [
        search(model, None, cfg, "act", np.random.default_rng(0), root=root).action_slot
        for cfg in (readable, faster)
    ]
    return bool(np.array_equal(slots[0], slots[1]))


SEARCH_VARIANTS = {"fused": "with fused inference", "compiled": "with the compiled step"}
"""The faster settings `bench search` times next to the readable search (see docs/performance.md)."""


def _begin(args, name: str, method: str) -> tuple[torch.device, dict]:
    """A benchmark's threads, seed and device, and the head of its results."""
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = resolve_device(args.device)
    return device, {
        "benchmark": name,
        "machine": machine_info(args.threads, str(device)),
        "method": method,
    }


def bench_search(args: SearchBenchArgs, log=print) -> dict:
    """Run the search benchmark, write `args.out`, return the results."""
    device, results = _begin(
        args,
        "search",
        (
            f"median of {args.repeats} calls after 1 warm-up; search call only "
            "(roots' initial inference excluded); random weights; inference_ms: "
            "the same number of recurrent inferences alone (the search's network work); "
            "fused_median_ms: the same search with runtime.fused_inference (state "
            "models); compiled_median_ms: with runtime.compile_step (--compile-step; "
            "compiled_same_choices: a seeded search chose the same root actions); "
            "all variants timed alternately in the same run"
        ),
    )
    results["presets"] = {}
    for name in args.presets:
        if name not in BENCH_SPECS:
            raise ValueError(
                f"no benchmark task for preset {name!r}; choose from {', '.join(BENCH_SPECS)}"
            )
        if any(b < 1 for b in args.batches) or args.repeats < 1:
            raise ValueError("--batches and --repeats must be positive integers")
        config, spec = preset(name), BENCH_SPECS[name]
        model = build_model(config, spec).to(device).eval()
        simulations, top = search_budget(config.search, spec)
        entry: dict[str, Any] = {
            "simulations": simulations,
            "root_candidates": top,
            "actions": spec.num_actions or config.search.num_sampled_actions,
            "batches": {},
            "reference_ms": REFERENCE_MS.get(name, {}),
        }
        for batch in args.batches:
            rng = np.random.default_rng(args.seed)
            if spec.is_image:
                obs = torch.from_numpy(
                    rng.integers(0, 256, (batch, *spec.obs_shape), dtype=np.uint8)
                )
            else:
                obs = torch.from_numpy(
                    rng.standard_normal((batch, *spec.obs_shape)).astype(np.float32)
                )
            with torch.no_grad():
                root = model.initial(obs.to(device))
            variants = {"readable": config}
            if config.model.encoder == "state":  # the same search through accel/fused.py
                variants["fused"] = override(config, runtime=dict(fused_inference=True))
            if args.compile_step:
                variants["compiled"] = override(config, runtime=dict(compile_step=True))
            times: dict[str, list[float]] = {variant: [] for variant in variants}
            first_ms = {}
            for call in range(args.repeats + 1):  # the variants alternate: same machine state
                for variant, cfg in variants.items():
                    elapsed = timed_ms(
                        partial(search, model, None, cfg, "act", rng, root=root), device
                    )
                    if call:  # the first call warms up (and compiles)
                        times[variant].append(elapsed)
                    else:
                        first_ms[variant] = elapsed
            median = statistics.median(times["readable"])
            inference = _inference_ms(model, root, simulations, args.repeats)
            result: dict[str, Any] = {
                "median_ms": round(median, 2),
                "runs_ms": [round(t, 2) for t in times["readable"]],
                "inference_ms": round(inference, 2),
            }
            entry["batches"][str(batch)] = result
            faster = ""
            for variant, label in SEARCH_VARIANTS.items():
                if variant in times:
                    result[f"{variant}_median_ms"] = round(statistics.median(times[variant]), 2)
                    result[f"{variant}_runs_ms"] = [round(t, 2) for t in times[variant]]
                    if variant == "compiled":
                        result["compiled_first_call_ms"] = round(first_ms[variant], 1)
                        result["compiled_same_choices"] = _same_choices(
                            model, root, config, variants[variant]
                        )
                    faster += f"; {label} {result[f'{variant}_median_ms']:.1f} ms"
            if args.profile:
                cfg = variants.get("fused", config)
                result["profile"] = profile_call(
                    partial(search, model, None, cfg, "act", rng, root=root)
                )
                result["profile"]["fused_inference"] = "fused" in variants
            log(
                f"search {name:10s} batch {batch:5d}: {median:9.1f} ms "
                f"(runs {', '.join(f'{t:.0f}' for t in times['readable'])}); "
                f"of which network inference {inference:.1f} ms{faster}"
            )
        results["presets"][name] = entry
    return _write(results, args.out, log)


# ---------------------------------------------------------------------------- learner


@dataclass
class LearnerBenchArgs:
    """Time learner steps including reanalysis."""

    presets: tuple[str, ...] = ("dmc_state", "cartpole")
    repeats: int = 5
    """Timed learner steps per preset (after one warm-up step); the median is reported."""
    transitions: int = 3000
    """Random-policy transitions in the replay before timing."""
    threads: int = 1
    out: str = "benchmarks/results/learner.json"
    seed: int = 0
    device: str = "cpu"
    """cpu, cuda or auto: where the model, the search trees and the update run."""
    replay: Literal["random-policy", "synthetic"] = "random-policy"
    """random-policy: transitions of a random policy in the preset's benchmark task;
    synthetic: random observations of the task's shape (no environment needed: a step costs
    the same whatever the pixels show)."""
    frames: str = "auto"
    """Where the replay keeps its frames: auto (as a training run places them: the model's GPU
    when they fit) or cpu (on a GPU: copied over through pinned buffers each step)."""


def bench_learner(args: LearnerBenchArgs, log=print) -> dict:
    """Run the learner benchmark, write `args.out`, return the results."""
    from ezv2_lite.learner import Learner
    from ezv2_lite.replay import frames_device, random_policy_replay
    from ezv2_lite.targets import reanalyze

    device, results = _begin(
        args,
        "learner",
        (
            f"median of {args.repeats} learner steps after 1 warm-up; each step = "
            "sample + reanalyze (TD bootstrap inference, search over B*(U+1) roots "
            "with the target model) + update; FLOPs counted by torch.utils.flop_counter "
            "in one more step; matmul: this machine's rate before and after, same run"
        ),
    )
    results |= {"matmul": matmul_gflops(args.threads, device=device), "presets": {}}
    for name in args.presets:
        if name not in BENCH_TASKS:
            raise ValueError(
                f"no learner benchmark for preset {name!r}; choose from {', '.join(BENCH_TASKS)}"
            )
        config = override(preset(name), env=dict(name=BENCH_TASKS[name]))
        config = config.resolved()
        if args.replay == "synthetic":
            replay, spec = synthetic_replay(config, BENCH_SPECS[name], args.transitions, args.seed)
        else:
            replay, spec = random_policy_replay(config, args.transitions, args.seed)
        config = override(config, runtime=dict(replay_device=args.frames))
        replay.to(frames_device(config, spec, device), device)  # as a training run places it
        learner = Learner(build_model(config, spec).to(device), config, device)
        rng = np.random.default_rng(args.seed)
        stages: dict[str, list[float]] = {"sample": [], "reanalyze": [], "update": [], "total": []}
        for call in range(args.repeats + 1):
            synchronize(device)
            t0 = time.perf_counter()
            batch = replay.sample(config.optim.batch_size)
            t1 = time.perf_counter()
            targets = reanalyze(replay, batch, learner.target.model, config, 0, rng)
            synchronize(device)
            t2 = time.perf_counter()
            learner.update(batch, targets)
            synchronize(device)
            t3 = time.perf_counter()
            if call:
                for key, value in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t3 - t0), strict=True):
                    stages[key].append(value * 1000)
        medians = {key: round(statistics.median(v), 1) for key, v in stages.items()}
        flops = _learner_step_flops(replay, learner, config, rng)
        achieved = flops["total"] / 1e9 / (medians["total"] / 1000)  # GFLOP/s
        results["presets"][name] = {
            "task": BENCH_TASKS[name],
            "frames_on": str(replay.device),
            "batch_size": config.optim.batch_size,
            "unroll_steps": config.optim.unroll_steps,
            "search_roots": config.optim.batch_size * (config.optim.unroll_steps + 1),
            "simulations": search_budget(config.search, spec)[0],
            "median_ms": medians,
            "gflop_per_step": {key: round(v / 1e9, 2) for key, v in flops.items()},
            "achieved_gflops": round(achieved, 2),
            "fraction_of_matmul_rate": round(achieved / results["matmul"]["gflops"], 3),
            "replay_bytes_per_agent_step": round(replay.nbytes / replay.num_transitions),
            "runs_ms": {key: [round(x, 1) for x in v] for key, v in stages.items()},
        }
        entry = results["presets"][name]
        log(
            f"learner {name:10s}: {medians['total']:8.1f} ms per step (sample {medians['sample']:.1f}, "
            f"reanalyze {medians['reanalyze']:.1f}, update {medians['update']:.1f}); replay "
            f"{replay.nbytes / replay.num_transitions:,.0f} bytes per stored agent step; "
            f"{entry['gflop_per_step']['total']:.1f} GFLOP per step = {entry['achieved_gflops']:.1f} GFLOP/s, "
            f"{entry['fraction_of_matmul_rate']:.0%} of the matmul rate"
        )
    results["matmul_after"] = matmul_gflops(args.threads, device=device)
    return _write(results, args.out, log)


def synthetic_replay(config, spec: EnvSpec, transitions: int, seed: int = 0):
    """A replay of `transitions` random observations of `spec`'s shape, random actions and
    rewards, in episodes of 250 steps (for timing: no environment needed). -> (replay, spec)"""
    from ezv2_lite.replay import Replay

    rng = np.random.default_rng(seed)
    replay = Replay(config, spec, seed=seed)

    def observation(first: bool = False):
        shape = (spec.obs_shape[0] // spec.frame_stack, *spec.obs_shape[1:])  # one frame
        frames = [
            rng.integers(0, 256, shape, dtype=np.uint8)
            if spec.obs_dtype == "uint8"
            else rng.standard_normal(shape).astype(np.float32)
            for _ in range(1 if first else spec.frame_stack)
        ]
        # a reset repeats its frame
        return np.concatenate(frames * spec.frame_stack if first else frames)

    def action():
        if spec.is_discrete:
            return int(rng.integers(spec.num_actions))
        return rng.uniform(-1, 1, spec.action_dim).astype(np.float32)

    for t in range(transitions):
        if t % 250 == 0:
            if t:
                replay.end_episode(0, terminal=False)
            replay.start_episode(0, observation(first=True), 0.0)
        reward = float(rng.uniform(0, 1))
        replay.add(0, action(), reward, reward, observation(), 0.0)
    replay.end_episode(0, terminal=False)
    return replay, spec


def _learner_step_flops(replay, learner, config, rng) -> dict[str, float]:
    """Floating-point operations of one learner step by stage, counted by torch's FlopCounterMode
    (matrix multiplies and convolutions, forward and backward; elementwise work is not counted)."""
    from torch.utils.flop_counter import FlopCounterMode

    from ezv2_lite.targets import reanalyze

    batch = replay.sample(config.optim.batch_size)
    with FlopCounterMode(display=False) as counter:
        targets = reanalyze(replay, batch, learner.target.model, config, 0, rng)
    reanalysis = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        learner.update(batch, targets)
    update = counter.get_total_flops()
    return {"reanalyze": reanalysis, "update": update, "total": reanalysis + update}


# ----------------------------------------------------------------------------- acting


@dataclass
class ActingBenchArgs:
    """Self-play throughput: agent steps per second of a preset's environments acting by search."""

    presets: tuple[str, ...] = ("cartpole", "pendulum", "dmc_state")
    steps: int = 30
    """Timed actor steps per preset (each steps all `num_envs` environments), after one warm-up."""
    threads: int = 1
    out: str = "benchmarks/results/acting.json"
    seed: int = 0


def bench_acting(args: ActingBenchArgs, log=print) -> dict:
    """Time self-play (search + environment step + replay write) with random weights."""
    from ezv2_lite.actor import Actor
    from ezv2_lite.envs import probe_spec
    from ezv2_lite.replay import Replay

    if args.steps < 1:
        raise ValueError("--steps must be a positive integer")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    results: dict[str, Any] = {
        "benchmark": "acting",
        "machine": machine_info(args.threads),
        "method": f"median of {args.steps} actor steps after 1 warm-up (random weights); "
        "search_ms: the act-mode search alone on the same observations",
        "presets": {},
    }
    for name in args.presets:
        if name not in BENCH_TASKS:
            raise ValueError(
                f"no acting benchmark for preset {name!r}; choose from {', '.join(BENCH_TASKS)}"
            )
        config = override(preset(name), env=dict(name=BENCH_TASKS[name])).resolved()
        spec = probe_spec(config.env, args.seed)
        model = build_model(config, spec).eval()
        actor = Actor(config, Replay(config, spec, seed=args.seed), seed=args.seed)
        rng = np.random.default_rng(args.seed)
        steps, searches = [], []
        try:
            for call in range(args.steps + 1):
                started = time.perf_counter()
                actor.step(model)
                middle = time.perf_counter()
                search(model, actor.obs, config, "act", rng)
                if call:
                    steps.append((middle - started) * 1000)
                    searches.append((time.perf_counter() - middle) * 1000)
        finally:
            actor.close()
        step_ms, search_ms = statistics.median(steps), statistics.median(searches)
        n = config.train.num_envs
        assert config.env.action_repeat is not None  # (resolved)
        entry = {
            "task": BENCH_TASKS[name],
            "num_envs": n,
            "simulations": search_budget(config.search, spec)[0],
            "median_step_ms": round(step_ms, 2),
            "search_ms": round(search_ms, 2),
            "agent_steps_per_s": round(n / step_ms * 1000, 1),
            "env_steps_per_s": round(n * config.env.action_repeat / step_ms * 1000, 1),
        }
        results["presets"][name] = entry
        log(
            f"acting {name:10s}: {entry['agent_steps_per_s']:7.1f} agent steps/s ({n} envs, "
            f"{step_ms:.1f} ms per step, of which search {search_ms:.1f} ms)"
        )
    return _write(results, args.out, log)


# ------------------------------------------------------------------------ end to end

END_TO_END_ENV_STEPS = {"cartpole": 10_000, "pendulum": 10_000, "dmc_state": 4_400}
"""Default budgets: CartPole's and Pendulum's acceptance runs; for dmc_state (learning from
2,000 ready transitions, action repeat 2) 200 agent steps of training after the first burst."""


@dataclass
class EndToEndBenchArgs:
    """Training throughput end to end: `train` on a preset from scratch (acting, learning,
    evaluations, checkpoints), in a scratch run directory that is removed afterwards."""

    presets: tuple[str, ...] = ("cartpole", "pendulum", "dmc_state")
    env_steps: tuple[int, ...] = ()
    """A budget per preset (same order); default: END_TO_END_ENV_STEPS."""
    seed: int = 0
    threads: int | None = None
    """torch threads of the runs (runtime.torch_threads); default: each preset's own."""
    fused_inference: bool = False
    """Run the searches through accel/fused.py (runtime.fused_inference; state models)."""
    reanalysis_worker: bool = False
    """Reanalyse in a second process, one batch ahead (runtime.reanalysis_worker)."""
    out: str = "benchmarks/results/end_to_end.json"
    progress: bool = True


def bench_end_to_end(args: EndToEndBenchArgs, log=print) -> dict:
    """Train each preset for its budget; record wall time, throughput and the final evaluation."""
    import shutil
    import tempfile

    from ezv2_lite.tools.report import evaluations, read_metrics
    from ezv2_lite.train import train

    if args.env_steps and len(args.env_steps) != len(args.presets):
        raise ValueError("give one --env-steps value per preset, or none for the defaults")
    budgets = args.env_steps or tuple(END_TO_END_ENV_STEPS.get(p, 0) for p in args.presets)
    threads = args.threads or preset("cartpole").runtime.torch_threads
    results: dict[str, Any] = {
        "benchmark": "end_to_end",
        "machine": machine_info(threads),
        "method": "one `train` run per preset from scratch; wall time as the run's metrics "
        "record it (acting, learner steps, evaluations, checkpoints)",
        "fused_inference": args.fused_inference,
        "reanalysis_worker": args.reanalysis_worker,
        "presets": {},
    }
    for name, budget in zip(args.presets, budgets, strict=True):
        if name not in BENCH_TASKS or budget < 1:
            raise ValueError(
                f"no end-to-end budget for preset {name!r}; choose from "
                f"{', '.join(BENCH_TASKS)} or give --env-steps"
            )
        runtime: dict[str, Any] = dict(
            reanalysis_worker=args.reanalysis_worker, fused_inference=args.fused_inference
        )
        if args.threads:
            runtime["torch_threads"] = args.threads
        config = override(
            preset(name),
            env=dict(name=BENCH_TASKS[name]),
            seed=args.seed,
            train=dict(total_env_steps=budget),
            runtime=runtime,
        )
        run_dir = Path(tempfile.mkdtemp(prefix=f"ezv2-e2e-{name}-"))
        try:
            train(config, run_dir / "run", progress=args.progress)
            metrics = read_metrics(run_dir / "run")
        finally:
            shutil.rmtree(run_dir, ignore_errors=True)
        evals, last = evaluations(metrics), metrics[-1]
        # train() returns after a Ctrl-C or SIGTERM, with a checkpoint
        if last["env_steps"] < budget:
            raise RuntimeError(
                f"the {name} run stopped at {last['env_steps']:,} of {budget:,} env steps "
                "(interrupted?); nothing was recorded"
            )
        entry = {
            "task": BENCH_TASKS[name],
            "seed": args.seed,
            "env_steps": last["env_steps"],
            "train_steps": last["train_steps"],
            "wall_s": round(last["wall_s"], 1),
            "env_steps_per_s": round(last["env_steps"] / last["wall_s"], 1),
            "final_eval_return": evals[-1]["eval_return_mean"] if evals else None,
            "evaluations": [[e["env_steps"], round(e["eval_return_mean"], 1)] for e in evals],
            "wall_s_per_1000_env_steps": block_times(metrics, 1000),
        }
        results["presets"][name] = entry
        log(
            f"end to end {name:10s}: {entry['env_steps']:,} env steps, {entry['train_steps']:,} learner "
            f"steps in {entry['wall_s']:,.0f} s ({entry['env_steps_per_s']:.1f} env steps/s); "
            f"final evaluation {entry['final_eval_return']}; seconds per 1,000 env steps: "
            f"{', '.join(f'{t:.0f}' for t in entry['wall_s_per_1000_env_steps'])}"
        )
    return _write(results, args.out, log)


def block_times(metrics: list[dict], block: int) -> list[float]:
    """Wall seconds spent on each successive `block` env steps of a run, read off the
    metrics lines (each block ends at the first line at or past its last env step)."""
    times, previous, edge = [], 0.0, block
    for line in metrics:
        while line["env_steps"] >= edge:  # a line may close several blocks (they share its time)
            times.append(round(line["wall_s"] - previous, 1))
            previous, edge = line["wall_s"], edge + block
    return times


# ------------------------------------------------------------------------------ learn


@dataclass
class TrainRateArgs:
    run_dir: tyro.conf.Positional[str]
    """A training run's directory (finished, or stopped with SIGTERM or Ctrl-C)."""
    out: str = "benchmarks/results/train-rate.json"


def bench_train_rate(args: TrainRateArgs, log=print) -> dict:
    """How fast a training run went, read from its metrics: env steps and learner steps per
    second between its first and last logged lines after learning had started, and how long
    its whole budget (`train.total_env_steps`) would take at that rate."""
    run = Path(args.run_dir)
    config = json.loads((run / "config.json").read_text())
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    learning = [m for m in lines if m.get("train_steps", 0) > 0]
    if len(learning) < 2:
        raise ValueError(
            f"{run} logged fewer than two lines after learning started: run it longer "
            "or log more often (--train.log-every-env-steps)"
        )
    first, last = learning[0], learning[-1]
    seconds = last["wall_s"] - first["wall_s"]
    env_rate = (last["env_steps"] - first["env_steps"]) / seconds
    learner_rate = (last["train_steps"] - first["train_steps"]) / seconds
    total = config["train"]["total_env_steps"]
    results = {
        "benchmark": "train-rate",
        "machine": machine_info(torch.get_num_threads(), config["device"]),
        "code_commit": code_commit(),
        "run": str(run),
        "preset": config["preset"],
        "task": config["env"]["name"],
        "method": "rates between the first and the last logged "
        "metrics lines with learner steps > 0 (collection, reanalysis, updates and logging together)",
        "first_learning_line": first,
        "last_line": last,
        "env_steps_per_s": round(env_rate, 2),
        "learner_steps_per_s": round(learner_rate, 3),
        "total_env_steps": total,
        "hours_for_total_env_steps": round(
            (total - last["env_steps"]) / env_rate / 3600 + last["wall_s"] / 3600, 2
        ),
    }
    log(
        f"{config['preset']} on {config['env']['name']} ({config['device']}): {env_rate:.1f} env steps/s, "
        f"{learner_rate:.2f} learner steps/s over {seconds:.0f} s; its {total:,} env steps would take "
        f"{results['hours_for_total_env_steps']} h"
    )
    return _write(results, args.out, log)


@dataclass
class LearnBenchArgs:
    """Train a preset on a task for a fixed env-step budget and seed; record its learning curve.

    The run lives in `runs_root`/learn-PRESET-TASK-SEED and is resumed if it exists, so an
    interrupted benchmark (a stopped session, kill -9) continues where its last checkpoint was.
    The curve is the one of a run at that budget: no offline learner steps after collection,
    an evaluation every `eval_every` env steps and a checkpoint every `checkpoint_every`.
    """

    preset: str = "dmc_state"
    task: str = "cartpole-swingup"
    seed: int = 0
    env_steps: int = 25_000
    runs_root: str = "runs"
    out_dir: str = "benchmarks/results"
    eval_every: int = 2500
    checkpoint_every: int = 1000
    reanalysis_worker: bool = False
    """Reanalyse in a second process (`runtime.reanalysis_worker`): a run on two cores."""
    progress: bool = True


def peak_memory_gb() -> float:
    """The largest resident set size this process has had, in GB (Linux reports KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9


def reference_returns(suite: str, task: str) -> dict[str, float]:
    """The returns of the random and do-nothing policies on a task, where
    benchmarks/reference_returns.py measured them: {"random policy": mean, ...}."""
    path = repository_path("benchmarks", "results", "reference-returns.json")
    measured = (
        json.loads(path.read_text())["tasks"].get(f"{suite}:{task}", {}) if path.exists() else {}
    )
    names = {"random": "random policy", "zero_action": "do-nothing policy"}
    return {names[kind]: entry["mean"] for kind, entry in measured.items()}


def bench_learn(args: LearnBenchArgs, log=print) -> dict:
    """Train (or resume), then write learn-PRESET-TASK-SEED.json with the evaluation curve."""
    from ezv2_lite.tools.report import evaluations, read_metrics
    from ezv2_lite.train import train

    name = f"learn-{args.preset}-{re.sub('[/:]', '_', args.task)}-{args.seed}"
    run_dir = Path(args.runs_root) / name
    command = (
        f"ezv2-lite bench learn --preset {args.preset} --task {args.task} --seed {args.seed} "
        f"--env-steps {args.env_steps} --runs-root {args.runs_root}"
    )
    defaults = LearnBenchArgs()
    for flag, value, default in (
        ("--eval-every", args.eval_every, defaults.eval_every),
        ("--checkpoint-every", args.checkpoint_every, defaults.checkpoint_every),
    ):
        if value != default:
            command += f" {flag} {value}"
    if args.reanalysis_worker:
        command += " --reanalysis-worker"
    resume = (run_dir / "checkpoints").exists()
    if resume:
        log(f"resuming {run_dir}")
        from ezv2_lite.train import _extend_budget_if_needed

        _extend_budget_if_needed(run_dir, args.env_steps)
        train(preset(args.preset), run_dir, resume=True, progress=args.progress)
    else:
        config = override(
            preset(args.preset),
            env=dict(name=args.task),
            seed=args.seed,
            train=dict(
                total_env_steps=args.env_steps,
                offline_train_steps=0,
                eval_every_env_steps=args.eval_every,
                checkpoint_every_env_steps=args.checkpoint_every,
            ),
            runtime=dict(reanalysis_worker=args.reanalysis_worker),
        )
        train(config, run_dir, progress=args.progress)
    metrics = read_metrics(run_dir)
    evals = evaluations(metrics)
    last = metrics[-1] if metrics else {}
    out = Path(args.out_dir) / f"{name}.json"

    peak = peak_memory_gb()  # this process's; a resumed run keeps the largest of its sessions
    if resume and out.exists():
        peak = max(peak, json.loads(out.read_text()).get("peak_resident_gb", 0.0))
    results = {
        "benchmark": "learn",
        "preset": args.preset,
        "task": args.task,
        "seed": args.seed,
        "env_steps_budget": args.env_steps,
        "command": command,
        "machine": machine_info(torch.get_num_threads()),
        "commit": code_commit(),
        "peak_resident_gb": round(peak, 2),
        "finished": bool(evals) and evals[-1]["env_steps"] >= args.env_steps,
        "env_steps_done": last.get("env_steps", 0),
        "wall_s": last.get("wall_s", 0.0),
        "evaluations": [
            {
                k: m[k]
                for k in (
                    "env_steps",
                    "train_steps",
                    "wall_s",
                    "eval_return_mean",
                    "eval_return_std",
                    "eval_episodes",
                )
            }
            for m in evals
        ],
    }
    if results["finished"]:  # the learning curve beside the numbers
        import shutil

        from ezv2_lite.tools.report import write_learning_curve

        curve = write_learning_curve(
            run_dir,
            title=f"{args.preset} on {args.task}, seed {args.seed}",
            references=reference_returns(preset(args.preset).env.suite, args.task),
        )
        Path(args.out_dir).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(curve, Path(args.out_dir) / f"{name}.png")
        log(f"wrote {Path(args.out_dir) / f'{name}.png'}")
    return _write(results, str(out), log)
