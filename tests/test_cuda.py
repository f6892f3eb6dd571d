"""The same behaviour on a CUDA GPU. Skipped where torch sees none (as on the course's CPU
machines); `benchmarks/gpu_check.sh` runs this file where one is at hand.

On the GPU: the pinned searches choose what they chose on the CPU, a learner step's loss is
the CPU's for the same weights and batch, a learner step with its replay's frames on the GPU
or behind pinned host buffers trains and reads back once, a checkpoint's random states put
the GPU's generator back, the CUDA-graph model step gives the readable search, and two
training runs with one seed write the same metrics.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import search_pins
import torch

from ezv2_lite.config import override
from ezv2_lite.presets import preset

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


@pytest.fixture(autouse=True)
def full_float32_products():
    """TF32 convolutions (cuDNN's default) round to 10 bits: compare in full float32."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize(
    "case", [f"{n}/{m}/{s}" for n, m, s in search_pins.cases() if n != "pendulum"]
)
def test_the_pinned_searches_choose_on_the_gpu_what_they_chose_on_the_cpu(case):
    """The noise is drawn on the host from the search's NumPy generator, so a search on the
    GPU must make the recorded choices, with the recorded targets to float32 rounding.
    Not pendulum's: its random-weight network amplifies rounding (weights changed by one part
    in a million move its policy targets by 1.5e-4 on one CPU, dmc_state's by 1e-6), so which
    of its near-equal sampled actions wins is decided by the order of float32 sums, and an
    H200 orders them differently."""
    name, mode, seed = case.split("/")
    want = json.loads(search_pins.PINS.read_text())["runs"][case]
    got = search_pins.run(name, mode, int(seed), device="cuda")
    for key in ("action_slot", "visit_counts", "trace_paths", "trace_parent"):
        assert got[key] == want[key], key
    for key in ("action", "improved_policy", "root_value"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-4, atol=1e-5, err_msg=key)


def _replay(name: str, transitions: int = 300):
    from ezv2_lite.tools.bench import BENCH_SPECS, synthetic_replay

    config = override(
        preset(name), optim=dict(batch_size=8), train=dict(start_transitions=8)
    ).resolved()
    replay, spec = synthetic_replay(config, BENCH_SPECS[name], transitions)
    return config, replay, spec


def test_a_learner_loss_on_the_gpu_is_the_cpu_loss_for_the_same_weights_and_batch():
    """cartpole: no augmentation and no sampling noise in the loss, so the devices must agree."""
    from ezv2_lite.learner import compute_loss
    from ezv2_lite.model import build_model
    from ezv2_lite.targets import reanalyze

    config, replay, spec = _replay("cartpole")
    torch.manual_seed(0)
    model = build_model(config, spec)
    with torch.no_grad():  # non-zero heads, so that every term depends on the weights
        for p in model.parameters():
            p.normal_(std=0.2)
    batch = replay.sample(8)
    targets = reanalyze(replay, batch, model, config, 0, np.random.default_rng(0))
    cpu_loss, _, cpu_terms = compute_loss(model, batch, targets, config, torch.device("cpu"))
    gpu_loss, _, gpu_terms = compute_loss(
        copy.deepcopy(model).to(CUDA), batch, targets, config, CUDA
    )
    assert gpu_loss.device.type == CUDA.type
    # random N(0, 0.2^2) weights make large activations: sums in another order differ by about
    # 1e-4 (two copies of the model on one CPU already do); a wrong mask or target would not
    np.testing.assert_allclose(gpu_loss.item(), cpu_loss.item(), rtol=1e-3)
    for key, value in cpu_terms.items():
        np.testing.assert_allclose(
            gpu_terms[key].detach().cpu().numpy(),
            value.detach().numpy(),
            rtol=1e-3,
            atol=1e-5,
            err_msg=key,
        )


@pytest.mark.parametrize("frames", ["cuda", "cpu"])
@pytest.mark.parametrize("name", ["dmc_state", "minatar"])
def test_a_learner_step_on_the_gpu_trains_and_reads_back_once(name, frames):
    """Frames on the GPU, or on the host copied over through pinned buffers: the batch
    arrives on the GPU, the weights move, the losses and priorities are finite, and each
    update reads back only its priorities."""
    from test_device import Watch

    from ezv2_lite.learner import Learner, LossSummary
    from ezv2_lite.model import build_model
    from ezv2_lite.targets import reanalyze

    config, replay, spec = _replay(name)
    replay.to(frames, CUDA)
    learner = Learner(build_model(config, spec).to(CUDA), config, CUDA)
    rng = np.random.default_rng(0)
    before = [p.detach().clone() for p in learner.model.parameters()]
    batch = replay.sample(8)
    assert replay.frames.device.type == frames and batch.observations.device.type == CUDA.type
    targets = reanalyze(replay, batch, learner.target.model, config, 0, rng)
    learner.update(batch, targets)  # warm-up
    watch = Watch()
    with watch:
        steps = [learner.update(batch, targets) for _ in range(2)]
    # each step's priorities: `.cpu().numpy()`, counted twice
    assert watch.counts["reads", 0] == 2 * 2
    line = LossSummary.mean([losses for losses, _ in steps])
    assert np.isfinite(line["total"]) and all(
        np.isfinite(p).all() and p.shape == (8,) for _, p in steps
    )
    assert any(
        not torch.equal(a, b) for a, b in zip(before, learner.model.parameters(), strict=True)
    )


def test_a_checkpoints_random_states_put_the_gpus_generator_back(tmp_path):
    from ezv2_lite.checkpoint import random_states, restore_random_states

    torch.cuda.manual_seed_all(3)
    torch.rand(1, device=CUDA)  # CUDA is initialised: its state is saved
    torch.save(random_states(), tmp_path / "rng.pt")
    expected = torch.rand(5, device=CUDA)
    torch.rand(7, device=CUDA)
    restore_random_states(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert torch.equal(torch.rand(5, device=CUDA), expected)


def test_the_cuda_graph_model_step_gives_the_readable_search():
    import ezv2_lite.accel  # noqa: F401  (registers the compiled step)
    from ezv2_lite.search import search

    torch._dynamo.reset()
    model, config = search_pins.network("cartpole").to(CUDA), preset("cartpole")
    obs = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    compiled = override(config, runtime=dict(compile_step=True))
    for batch in (5, 6, 3):
        readable, fast = (
            search(model, obs[:batch], c, "act", np.random.default_rng(1))
            for c in (config, compiled)
        )
        np.testing.assert_array_equal(readable.action_slot, fast.action_slot)
        np.testing.assert_allclose(readable.improved_policy, fast.improved_policy, atol=1e-4)
        np.testing.assert_allclose(readable.root_value, fast.root_value, rtol=1e-4, atol=1e-4)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(1.05)


def test_two_gpu_runs_with_the_same_seed_write_identical_metrics(tmp_path):
    """runtime.deterministic (on by default) makes a GPU run repeatable, like a CPU run."""
    from test_train import TINY, metrics

    for name in ("a", "b"):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "ezv2_lite.tools.cli",
                "train",
                *TINY,
                "--device",
                "cuda",
                "--total-env-steps",
                "400",
                "--seed",
                "5",
                "--run-dir",
                str(tmp_path / name),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
    strip = lambda lines: [{k: v for k, v in m.items() if k != "wall_s"} for m in lines]
    a, b = strip(metrics(tmp_path / "a")), strip(metrics(tmp_path / "b"))
    assert len(a) > 3 and a == b and any("total" in m for m in a)
