"""Workflow: what the Snakefile needs from the package."""
