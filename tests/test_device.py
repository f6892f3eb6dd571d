"""The search and the learner stay on the model's device (docs/performance.md).

A search on a GPU is fast only if the host never waits for it: no value may be read back
(`.item()`, `.cpu()`, `.numpy()`, `.tolist()`, `bool()`/`int()`/`float()` of a tensor)
and no host data copied over while the simulations run, and its number of tensor
operations must not grow with the batch (no per-root Python loop). This machine has no
GPU, so these tests watch every torch call the search makes on the CPU, and run the
whole simulation loop on the `meta` device, whose tensors have shapes but no data: any
host read there is an error, and every transfer from the host is visible as a device change.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import search_pins
import torch
from torch.overrides import TorchFunctionMode

from ezv2_lite.model import build_model
from ezv2_lite.presets import preset
from ezv2_lite.search import search as search_fn
from ezv2_lite.search.tree import Tree

search_module = importlib.import_module("ezv2_lite.search.search")  # the package exports `search`

HOST_READS = {"item", "tolist", "numpy", "cpu", "__bool__", "__int__", "__float__", "__index__"}
LOOP_STEPS = ("simulate", "expand", "halve")  # with Tree.backup: one simulation


class Watch(TorchFunctionMode):
    """Counts torch calls: host reads, transfers to another device, and all calls, each
    split into those made inside a simulation step and the others."""

    def __init__(self):
        super().__init__()
        self.in_loop = 0
        self.counts = {
            (kind, inside): 0 for kind in ("reads", "transfers", "ops") for inside in (0, 1)
        }

    def __torch_function__(self, func, types, args=(), kwargs=None):
        result = func(*args, **(kwargs or {}))
        name, inside = getattr(func, "__name__", ""), int(self.in_loop > 0)
        self.counts["ops", inside] += 1
        if name in HOST_READS:
            self.counts["reads", inside] += 1
        if name in ("to", "as_tensor", "tensor") and _names_a_device(args[1:], kwargs or {}):
            self.counts["transfers", inside] += 1
        return result


def _names_a_device(args, kwargs) -> bool:
    """Whether a `to`/`as_tensor` call moves data to a device (a CPU no-op here, a copy on a GPU)."""
    return kwargs.get("device") is not None or any(
        isinstance(a, (torch.device, str)) or (isinstance(a, torch.Tensor)) for a in args
    )


@pytest.fixture
def watch(monkeypatch):
    """A Watch that knows when the search is inside one of its simulation steps."""
    w = Watch()

    def inside(function):
        def wrapped(*args, **kwargs):
            w.in_loop += 1
            try:
                return function(*args, **kwargs)
            finally:
                w.in_loop -= 1

        return wrapped

    for name in LOOP_STEPS:
        monkeypatch.setattr(search_module, name, inside(getattr(search_module, name)))
    monkeypatch.setattr(Tree, "backup", inside(Tree.backup))
    return w


CASES = ["cartpole", "pendulum", "dmc_state", "atari_small"]


@pytest.mark.parametrize("name", CASES)
def test_no_host_read_or_copy_inside_the_simulations_and_a_few_per_search(name, watch):
    """Untraced (acting, reanalysis): 14 read calls, all after the loop (`.cpu()` and `.numpy()`
    of 7 result arrays; 12 without sampled actions) and at most 4 transfers from the host
    (observations, Gumbel noise or root samples, interior samples). A trace for the
    visualizers reads its recordings at the end too, about 2 per simulation."""
    model, cfg = search_pins.network(name), search_pins.config(name)
    obs = search_pins.observations(name, 0)
    # warm-up: bins copied to the device once
    search_fn(model, obs, cfg, "act", np.random.default_rng(0))
    counts = {}
    for trace_root in (None, 1):
        watch.counts = dict.fromkeys(watch.counts, 0)
        with watch:
            search_fn(model, obs, cfg, "act", np.random.default_rng(0), trace_root=trace_root)
        counts[trace_root] = dict(watch.counts)
        assert watch.counts["reads", 1] == 0 and watch.counts["transfers", 1] == 0
    untraced, traced = counts[None], counts[1]
    print(
        f"{name}: per search, host reads {untraced['reads', 0]} (traced {traced['reads', 0]}), "
        f"transfers from the host {untraced['transfers', 0]}, inside the simulations 0 and 0"
    )
    assert untraced["reads", 0] == (12 if model.spec.is_discrete else 14)
    assert untraced["transfers", 0] <= 4
    assert traced["reads", 0] <= untraced["reads", 0] + 12 + 3 * cfg.search.num_simulations


@pytest.mark.parametrize("name", ["cartpole", "dmc_state"])
def test_the_number_of_tensor_operations_does_not_grow_with_the_batch(name, watch):
    """Operations per simulation (the model step included) are the same for 1 root and 64:
    no Python loop over roots. The figure is printed; the bound leaves room for small edits."""
    model, cfg = search_pins.network(name), search_pins.config(name)
    # warm-up
    search_fn(model, search_pins.observations(name, 0), cfg, "act", np.random.default_rng(0))
    per_simulation = []
    for batch in (1, 64):
        obs = (
            np.random.default_rng(0)
            .standard_normal((batch, *model.spec.obs_shape))
            .astype(np.float32)
        )
        watch.counts = dict.fromkeys(watch.counts, 0)
        with watch:
            search_fn(model, obs, cfg, "act", np.random.default_rng(0))
        per_simulation.append(watch.counts["ops", 1] / cfg.search.num_simulations)
    print(f"{name}: {per_simulation[0]:.0f} torch operations per simulation at batch 1 and 64")
    assert per_simulation[0] == per_simulation[1]
    assert per_simulation[0] <= {"cartpole": 330, "dmc_state": 300}[name]  # 275 and 246 measured


@pytest.mark.parametrize("name", CASES)
def test_the_simulations_run_on_a_device_without_host_access(name):
    """Model built under torch.device('meta') (a device the host cannot read), roots and
    search on it: the loop completes, so it never reads a value back."""
    spec, cfg = search_pins.SPECS[name], search_pins.config(name)
    with torch.device("meta"):  # the default device too: nothing may land on the host's by accident
        model = build_model(cfg, spec).eval()
        obs = torch.zeros(
            (4, *spec.obs_shape), dtype=torch.uint8 if spec.is_image else torch.float32
        )
        root = model.initial(obs)
        done = search_module.run_search(
            root,
            model.recurrent,
            model.scalar_value_reward,
            model,
            cfg,
            "reanalyze",
            np.random.default_rng(0),
            trace_root=1,
        )
    assert next(model.parameters()).device.type == "meta"
    assert done.tree.visits.device.type == "meta" and done.candidates.shape[0] == 4
    with pytest.raises(NotImplementedError):  # and reading it back is the caller's step
        done.to_host()


@pytest.mark.parametrize("name", ["cartpole", "dmc_state", "atari_small"])
def test_a_learner_step_runs_on_a_device_without_host_access(name):
    """The losses, their backward pass and the gradient clip of one learner step, with the
    model built under torch.device('meta') and the batch copied to it: nothing is read back
    on the way (the logged terms and the priorities are read once, after the step). The
    optimiser's step itself is torch's fused kernel, which has no meta form."""
    from ezv2_lite.config import override
    from ezv2_lite.learner import compute_loss
    from ezv2_lite.replay import random_policy_replay
    from ezv2_lite.targets import reanalyze

    config = override(
        search_pins.config(name), optim=dict(batch_size=4), train=dict(start_transitions=4)
    ).resolved()
    if name == "atari_small":
        config = override(config, env=dict(image_size=32))
    replay, spec = random_policy_replay(config, 30, seed=0)
    batch = replay.sample(4)
    targets = reanalyze(
        replay, batch, build_model(config, spec), config, 0, np.random.default_rng(0)
    )
    with torch.device("meta"):
        model = build_model(config, spec)
    loss, root_value, terms = compute_loss(model, batch, targets, config, torch.device("meta"))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), config.optim.max_grad_norm)
    assert loss.device.type == root_value.device.type == "meta"
    assert all(
        p.grad is not None and p.grad.device.type == "meta"
        for p in model.parameters()
        if p.requires_grad
    )
    assert {t.device.type for t in terms.values()} == {"meta"}


def test_a_learner_step_reads_back_once_and_its_losses_when_logged():
    """One `Learner.update` on the CPU, watched: its one host read is the new priorities
    (`.cpu().numpy()`); the targets reach the device in one copy, and the logged terms stay
    there until `LossSummary.mean` reads those of several steps in one `.tolist()`."""
    from ezv2_lite.config import override
    from ezv2_lite.learner import Learner, LossSummary, compute_loss
    from ezv2_lite.replay import random_policy_replay
    from ezv2_lite.targets import reanalyze

    config = override(
        preset("dmc_state"), optim=dict(batch_size=4), train=dict(start_transitions=4)
    ).resolved()
    replay, spec = random_policy_replay(config, 30, seed=0)
    model = build_model(config, spec)
    learner = Learner(model, config, torch.device("cpu"))
    batch = replay.sample(4)
    targets = reanalyze(replay, batch, learner.target.model, config, 0, np.random.default_rng(0))
    learner.update(batch, targets)  # warm-up: the optimiser's state and the bins' device copies
    watch = Watch()
    with watch:
        steps = [learner.update(batch, targets) for _ in range(3)]
    # per step the priorities' `.cpu().numpy()`, counted twice
    assert watch.counts["reads", 0] == 3 * 2
    loss_watch = Watch()
    with loss_watch:
        compute_loss(model, batch, targets, config, torch.device("cpu"))
    assert loss_watch.counts["transfers", 0] == 2  # the observations (delivered there) and one copy
    with watch:
        line = LossSummary.mean([losses for losses, _ in steps])
    assert watch.counts["reads", 0] == 3 * 2 + 1
    assert len(line["value_by_step"]) == config.optim.unroll_steps + 1 and steps[0][1].shape == (4,)
