"""Reports: what a researcher reads — the verdict first, then the evidence."""
