"""Benchmarks of the course: speed, memory and quality, each measured against a baseline in the same process.

Run them all with `make bench` (bench/run_all.py); bench/README.md explains each one.
"""
