"""The research loop around verdicts: lineage, refinement drafts, the scoreboard and status."""
