"""The smallest CartPole training the command-line tests start (seconds on a CPU)."""

TINY_TRAINING = (
    "--optim.batch-size 16 --train.start-transitions 64 --search.num-simulations 4 "
    "--train.eval-episodes 2 --train.train-ratio 0.25 --train.num-envs 2 "
    "--model.latent-dim 16 --model.hidden-dim 16"
).split()
"""Batch 16, 4 simulations, 2 environments, 16-wide networks: every part of a run, tiny.
Each test adds the intervals (evaluation, log, checkpoint) and budget it checks."""
