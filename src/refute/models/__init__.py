"""Models: one module each, registered by name. Every model is seed-batched: each parameter has a
leading seed dimension, and one forward pass runs every seed."""
