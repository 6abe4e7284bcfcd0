"""Error control over the whole agenda: which held predictions survive an online false-discovery-rate procedure
run over every prediction of every hypothesis, in the order their plans were sealed (refute.stats.online_fdr).

Each hypothesis's own verdict controls errors among its predictions; an agenda tests many hypotheses, and
refinement chains test a claim again and again, so some held predictions are false discoveries by chance.
Every prediction of every sealed plan takes one slot in the stream, in seal order (then lineage, then file
order), fixed before any data. A slot's p-value is the prediction's own test p when it held and was
pre-registered; otherwise 1 (not run yet, undecided, contradicted, post hoc, seen data, or an INVALID
verdict), which can never be a discovery. A held prediction *survives* when its p is at most the slot's
LORD++ level, which keeps the agenda's false discovery rate at most q.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from refute.components.predictions.outcome import HOLDS, INVALID
from refute.stats.online_fdr import lord_plus_plus

AGENDA_Q = 0.05  # the agenda's false discovery rate


@dataclass
class Slot:
    position: int  # 1-based, in the stream
    hypothesis: str
    prediction: str
    sealed_at: str
    p: float | None  # the test's p (None: not analysed)
    held: bool  # held and pre-registered: may be a discovery
    level: float = 0.0
    survives: bool = False


@dataclass
class AgendaFDR:
    q: float
    slots: list[Slot] = field(default_factory=list)

    @property
    def held(self) -> int:
        return sum(s.held for s in self.slots)

    @property
    def survived(self) -> int:
        return sum(s.survives for s in self.slots)

    def survivors(self, hyp_id: str) -> int:
        return sum(s.survives for s in self.slots if s.hypothesis == hyp_id)


def agenda_fdr(entries: list[dict], q: float = AGENDA_Q) -> AgendaFDR:
    """Each entry: {"id", "verdict", "post_hoc", "sealed_at", "depth", "predictions": [{"id", "status", "p",
    "seen"}]} (the index's entries)."""
    slots = []
    order = sorted(range(len(entries)), key=lambda i: (entries[i].get("sealed_at") or "~", entries[i].get("depth", 0),
                                                        entries[i]["id"]))
    for i in order:
        e = entries[i]
        scored = e.get("verdict") not in (None, INVALID) and not e.get("post_hoc")
        for p in e["predictions"]:
            held = scored and p.get("status") == HOLDS and not p.get("seen") and p.get("p") is not None
            slots.append(Slot(len(slots) + 1, e["id"], p["id"], e.get("sealed_at") or "", p.get("p"), held))
    levels, found = lord_plus_plus([s.p if s.held else 1.0 for s in slots], q)
    for s, level, hit in zip(slots, levels, found):
        s.level, s.survives = level, hit and s.held
    return AgendaFDR(q, slots)
