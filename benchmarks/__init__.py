"""The benchmarks: scripts and `ezv2-lite bench` (bench.py), run from a checkout of the repository."""
