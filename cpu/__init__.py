"""Toy CPU compatible with the bGPT "CPU states" dataset (numpy only, no torch)."""
