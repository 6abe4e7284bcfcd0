"""Scaling: what jobs cost, how they use the machine, seed chunks and devices."""
