"""What a `refute run` decided: one line per hypothesis (id, verdict, report), and whether to fail a script.

Read from each hypothesis's verified records after Snakemake has finished, never from Snakemake's log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from refute.layout import REPORT_HTML, Layout
from refute.stats import records

VERDICTS = ("supported", "refuted", "inconclusive", "invalid")
NO_VERDICT = "missing"  # a hypothesis the run left without a verdict (a failed job)
FAIL_ON = (*VERDICTS, NO_VERDICT)


@dataclass
class Outcome:
    id: str
    verdict: str | None  # SUPPORTED / REFUTED / INCONCLUSIVE / INVALID, None without one
    report: Path | None  # report.html, when it exists
    flags: list[str] = field(default_factory=list)  # "post hoc" (plan edited after results), "seen data"

    @property
    def key(self) -> str:
        """The name --fail-on uses for this outcome."""
        return self.verdict.lower() if self.verdict else NO_VERDICT


def outcomes(results: str | Path, ids: list[str]) -> list[Outcome]:
    """Each hypothesis's current verdict and report."""
    out = []
    for hid in ids:
        report = Layout(results).hypothesis_file(hid, REPORT_HTML)
        if not records.analysed(results, hid):
            out.append(Outcome(hid, None, report if report.exists() else None))
            continue
        d = records.read(results, hid)
        out.append(Outcome(hid, d.verdict.verdict, report if report.exists() else None, flags(d)))
    return out


def flags(d: records.Decision) -> list[str]:
    """What keeps a verdict from counting as pre-registered: a plan edited after results existed (post hoc),
    predictions that read runs trained before the plan was sealed (seen data)."""
    return [f for f, on in (("post hoc", d.verdict.post_hoc), ("seen data", any(p.seen for p in d.predictions)))
            if on]


def format_outcomes(found: list[Outcome]) -> str:
    width = max((len(o.id) for o in found), default=0)
    lines = []
    for o in found:
        verdict = o.verdict or "no verdict"
        where = str(o.report) if o.report else "no report"
        flags = f"  ({', '.join(o.flags)})" if o.flags else ""
        lines.append(f"{o.id.ljust(width)}  {verdict:<12}  {where}{flags}")
    return "\n".join(lines)


def parse_fail_on(text: str) -> set[str]:
    """`invalid,refuted` -> {"invalid", "refuted"}; a ValueError names an unknown word."""
    words = {w.strip().lower() for w in text.split(",") if w.strip()}
    unknown = sorted(words - set(FAIL_ON))
    if unknown:
        raise ValueError(f"unknown verdict {', '.join(unknown)} (choose from {', '.join(FAIL_ON)})")
    return words


def failing(found: list[Outcome], fail_on: set[str]) -> list[Outcome]:
    return [o for o in found if o.key in fail_on]
