"""Benchmarks (`make bench`): numbers go to benchmarks/results/*.json with the machine noted."""
