"""Observables: what a run logs over training, one module each, registered by name."""
