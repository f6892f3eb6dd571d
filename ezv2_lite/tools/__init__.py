"""The tools around the algorithm: what a user runs and reads, built on the package below.

- `cli.py`: the `ezv2-lite` command (train, eval, agents, export, report, sweep, bench,
  check-env); `args.py`: reading its command lines;
- `report.py` (a run's curve and summary), `sweep.py` and `sweep_report.py` (Ray sweeps and
  their rliable-style report), `ablations.py` (the ablation lab's questions and verdicts);
- `agents.py` (the shipped agents and their model cards), `video.py` (episodes as videos),
  `tensorboard.py` (metrics as TensorBoard events), `course.py` (the course's setting);
- `bench.py`: the benchmarks behind `ezv2-lite bench` (JSON under benchmarks/results/).

The algorithm (ezv2_lite's other modules) never imports from here.
"""
