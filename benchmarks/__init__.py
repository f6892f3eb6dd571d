"""The benchmarks: scripts beside `ezv2-lite bench` (ezv2_lite/tools/bench.py), run from a
checkout of the repository."""
