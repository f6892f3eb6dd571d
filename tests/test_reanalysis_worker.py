"""Reanalysis in a second process: the same targets as in the trainer's process."""

import copy
import dataclasses

import numpy as np
import psutil
import pytest
import torch

from ezv2_lite.config import override
from ezv2_lite.envs import probe_spec
from ezv2_lite.model import build_model
from ezv2_lite.presets import preset
from ezv2_lite.reanalysis_worker import ReanalysisWorker
from ezv2_lite.replay import Replay, random_policy_replay
from ezv2_lite.targets import reanalyze


def assert_same_targets(a, b):
    for field in dataclasses.fields(a):
        x, y = getattr(a, field.name), getattr(b, field.name)
        assert (x is None) == (y is None), field.name
        if x is not None:
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6, err_msg=field.name)


@pytest.mark.slow
def test_the_worker_reanalyses_a_batch_as_the_trainer_would_and_follows_the_target():
    config = override(
        preset("pendulum"), optim=dict(batch_size=8), search=dict(num_simulations=4)
    ).resolved()
    spec = probe_spec(config.env)
    torch.manual_seed(0)
    model = build_model(config, spec).eval()
    replay = Replay(config, spec, seed=0)
    worker = ReanalysisWorker(
        config, spec, replay, model, np.random.default_rng(3).bit_generator.state
    )
    try:
        # every write reaches the worker too
        random_policy_replay(config, 300, seed=0, replay=replay)
        rng = np.random.default_rng(3)
        for step in (7, 8):
            batch, targets = worker.next(step)
            assert_same_targets(targets, reanalyze(replay, batch, model, config, step, rng))
        # batch 9 is already on its way; a checkpoint now records it and the rng before it
        rng_before_9, pending = worker.checkpoint_state()
        assert pending["train_step"] == 9 and len(pending["indices"]) == 8
        assert rng_before_9 == worker.rng_state
        old = copy.deepcopy(model)
        with torch.no_grad():  # the learner refreshes the target
            for p in model.parameters():
                p.add_(0.05)
        worker.set_target(model)
        batch, targets = worker.next(9)  # prefetched before the refresh: the old weights
        rng = np.random.default_rng()
        rng.bit_generator.state = rng_before_9
        assert_same_targets(targets, reanalyze(replay, batch, old, config, 9, rng))
        rng.bit_generator.state = worker.rng_state
        batch, targets = worker.next(10)  # requested after the refresh: the new weights
        assert_same_targets(targets, reanalyze(replay, batch, model, config, 10, rng))
    finally:
        worker.close()
    # stopped, reaped
    assert worker.process.exitcode == 0 and not psutil.pid_exists(worker.process.pid)
