"""Training: every seed of a run trained as one seed-batched model, checkpointed and written atomically."""
