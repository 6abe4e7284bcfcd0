"""Snakemake's own report (`snakemake --report report.zip`): the labels each hypothesis's files carry there.

Every file of a hypothesis (report.html, its figures, verdict.json and the tables the verdict was decided
from) is labelled with the hypothesis, its verdict and the file's name, read from verdict.json when the
report is made; rules/report.rst lists the verdicts on the report's landing page from these labels.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from refute import io
from refute.stats.records import VerdictRecord


def verdict_words(verdict_file: str | Path) -> tuple[str, str]:
    """The verdict (with "(post hoc)" where it applies) and "k of n" predictions held, from verdict.json."""
    v = VerdictRecord.model_validate(io.read_json(verdict_file))
    held = sum(status == "holds" for status in v.predictions.values())
    return v.verdict + (" (post hoc)" if v.post_hoc else ""), f"{held} of {len(v.predictions)}"


def labels(file: str) -> Callable[..., dict[str, str]]:
    """The labels of one of a hypothesis's files, for a rule's `report(..., labels=labels("report.html"))`:
    a function Snakemake calls with the job's wildcards and files when it makes the report. `file` may name
    a wildcard of the output's patterns ("{metric}.png"); the verdict is the job's input or output
    verdict.json."""

    def of(wildcards, input, output) -> dict[str, str]:
        verdict_file = getattr(input, "verdict", None) or getattr(output, "verdict")
        verdict, held = verdict_words(verdict_file)
        return {"hypothesis": wildcards.id, "verdict": verdict, "predictions held": held, "file": file}

    return of
