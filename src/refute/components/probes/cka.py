"""cka: linear centered kernel alignment between representations (Kornblith et al. 2019).

CKA compares two representations of the same examples up to rotation and isotropic scaling:
1 for the same representation (or an orthogonal transform of it), near 0 for unrelated ones.
Between `seeds` (a site of one seed against the same site of another, on disjoint seed pairs as below;
`cka_with_seed` keeps every pair, to look at), between `sites`
(two sites of one model), or between `conditions` (this condition's site against a reference
condition's, seed by seed: other widths, architectures or training).

`between: seed_pairs` compares every listed site of one seed with every listed site of another, to
test claims like "layer i of one network is most similar to layer i of another". A value computed
from two runs shares each run with every other pair that contains it, so such values are not
independent across seeds: the seeds are split into disjoint pairs in their listed order ((s0, s1),
(s2, s3), …; an odd last seed is left out), each pair gives one value, recorded under its first seed,
and the statistics stage tests one value per pair and says so (`Probe.seed_pairs`). Per pair and
listed site i, with C[i, j] the CKA of site i of the first seed with site j of the second:
`cka@i` = C[i, i]; `margin@i` = C[i, i] − the largest C[i, j] or C[j, i] over j ≠ i (> 0: site i is
matched to itself, beyond any other site in either direction); and over the sites, `min_margin` and
`matched_fraction` (the fraction of sites with margin > 0). The full matrix is kept as `cka_to@i`
per unit j (the position of site j in `sites`).

Health certificate (refute.components.certificates): every tested output `m` also logs `m.bias_gap`,
|biased − debiased CKA| (for margins and the per-pair summaries: the largest gap among the entries they
read), `m.certified` (1 when the gap is at most CKA_BIAS_GAP) and, for `cka`, `cka.debiased`. The
biased estimator drifts towards 1 when the examples are few against the features; a large gap says
the value mostly measures that bias (raise max_examples).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, model_validator

from refute.components.certificates import CKA_BIAS_GAP, certificate_of, companion
from refute.components.probes import ExampleParams, ProbeContext, Table, check_site, check_sites, disjoint_pairs
from refute.components.probes.hooks import activations
from refute.components.probes import PROBES, Probe
from refute.registry import only_with

if TYPE_CHECKING:
    from refute.components.models import Architecture
    from refute.spec.schema import RunSpec
    import torch


class CKAParams(ExampleParams):
    site: str | None = Field(None, description="the site compared, e.g. hidden.0 (every mode but seed_pairs)")
    between: Literal["seeds", "sites", "conditions", "seed_pairs"] = Field(
        "seeds", description="compare the site across seeds, with another site, or with another condition; "
        "seed_pairs: every listed site of one seed with every listed site of another, on disjoint seed pairs"
    )
    sites: list[str] | None = Field(None, min_length=2, description="between: seed_pairs — the sites compared "
                                                                     "(at least two), e.g. [hidden.0, hidden.1]",
                                    json_schema_extra=only_with(between="seed_pairs"))
    other_site: str | None = Field(None, description="between: sites — the second site",
                                   json_schema_extra=only_with(between="sites"))
    reference: str | None = Field(None, description="between: conditions — the condition compared against",
                                  json_schema_extra=only_with(between="conditions"))
    reference_site: str | None = Field(None, description="between: conditions — its site (default: the same name)",
                                       json_schema_extra=only_with(between="conditions"))

    @model_validator(mode="after")
    def _mode_fields(self):
        if self.between == "seed_pairs":
            if not self.sites or self.site is not None:
                raise ValueError("between: seed_pairs compares the listed sites: give sites (at least two), not site")
            if len(set(self.sites)) != len(self.sites):
                raise ValueError("between: seed_pairs lists each site once")
            return self
        if self.site is None:
            raise ValueError(f"between: {self.between} needs site")
        if self.between == "sites" and not self.other_site:
            raise ValueError("between: sites needs other_site")
        if self.between == "conditions" and not self.reference:
            raise ValueError("between: conditions needs reference (a condition name)")
        return self


def debiased_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x: [..., N, p], y: [..., N, q] -> [...] linear CKA from the unbiased HSIC estimator (Song et al. 2012),
    as Kornblith et al.'s debiased CKA (Nguyen et al. 2021): the Gram matrices' diagonals are dropped and
    the remaining double sums corrected, in feature space (O(N·p), no N × N matrix). nan below 4 examples
    or where an unbiased self-similarity is not positive."""
    import torch

    x = x.double() - x.double().mean(-2, keepdim=True)
    y = y.double() - y.double().mean(-2, keepdim=True)
    n = x.shape[-2]
    if n < 4:
        return torch.full(x.shape[:-2], float("nan"), dtype=torch.float64)

    def hsic(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        da, db = a.pow(2).sum(-1), b.pow(2).sum(-1)  # Gram diagonals, [..., N]
        tr = (a.transpose(-1, -2) @ b).pow(2).sum((-1, -2)) - (da * db).sum(-1)
        row_a = (a @ a.sum(-2, keepdim=True).transpose(-1, -2)).squeeze(-1) - da  # K̃1
        row_b = (b @ b.sum(-2, keepdim=True).transpose(-1, -2)).squeeze(-1) - db
        return (tr + row_a.sum(-1) * row_b.sum(-1) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * (row_a * row_b).sum(-1)) / (n * (n - 3))

    xx, yy = hsic(x, x), hsic(y, y)
    ok = (xx > 0) & (yy > 0)
    return torch.where(ok, hsic(x, y) / (xx * yy).clamp_min(1e-300).sqrt(), torch.full_like(xx, float("nan")))


def certify(t: Table, metric: str, biased: torch.Tensor, gap: torch.Tensor, site: str = "",
            debiased: torch.Tensor | None = None) -> None:
    """Log `metric`'s certificate beside it: the bias gap, certified where it is at most CKA_BIAS_GAP
    (nan where there is no value; a nan gap, an undefined debiased estimate, fails)."""
    import torch

    certified = torch.where(biased.isnan(), biased, (gap <= CKA_BIAS_GAP).double())
    if debiased is not None:
        t.add(companion(metric, "debiased"), debiased, site=site)
    t.add(companion(metric, "bias_gap"), gap, site=site)
    t.add(certificate_of(metric), certified, site=site)


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x: [..., N, p], y: [..., N, q] (the same N examples) -> [...] linear CKA."""
    x = x.double() - x.double().mean(-2, keepdim=True)
    y = y.double() - y.double().mean(-2, keepdim=True)
    xy = (x.transpose(-1, -2) @ y).pow(2).sum((-1, -2))
    xx = (x.transpose(-1, -2) @ x).pow(2).sum((-1, -2)).sqrt()
    yy = (y.transpose(-1, -2) @ y).pow(2).sum((-1, -2)).sqrt()
    return xy / (xx * yy).clamp_min(1e-300)


@PROBES.register("cka", CKAParams)
class CKA(Probe):
    """linear CKA of a site across seeds, against another site, or against another condition"""

    def reference(self, p: CKAParams) -> tuple[str, str] | None:
        """(condition, site) whose model this probe also needs, if any."""
        return (p.reference, p.reference_site or p.site) if p.between == "conditions" else None

    def seed_pairs(self, p: CKAParams) -> bool:
        return p.between in ("seeds", "seed_pairs")

    def check(self, p: CKAParams, run: RunSpec, anatomy: Architecture) -> list[str]:
        if p.between == "seed_pairs":
            issues = check_sites(p.sites, anatomy, run.model.name)
            if len(run.seeds) < 2:
                issues.append("between: seed_pairs needs at least two seeds (one pair)")
            return issues
        issues = check_site(p.site, anatomy, run.model.name)
        if p.between == "sites":
            issues += check_site(p.other_site, anatomy, run.model.name, "other_site")
        if p.between == "seeds" and len(run.seeds) < 2:
            issues.append("between: seeds needs at least two seeds")
        return issues

    def outputs(self, p: CKAParams, run: RunSpec, anatomy: Architecture) -> list[tuple[str, str]]:
        if p.between == "seed_pairs":
            return [(m, s) for s in p.sites for m in ("cka", "margin")] + [("min_margin", ""), ("matched_fraction", "")]
        return [("cka", p.site)]

    def compute(self, p: CKAParams, ctx: ProbeContext) -> Table:
        x, _ = ctx.examples(p.split, p.max_examples)
        if p.between == "seed_pairs":
            _, acts = activations(ctx.model, x, p.sites)
            return pair_table(ctx.seeds, {s: acts[s].flatten(2) for s in p.sites})
        sites = [p.site] + ([p.other_site] if p.between == "sites" else [])
        _, acts = activations(ctx.model, x, sites)
        a = acts[p.site].flatten(2)  # [S, N, features]
        t = Table(ctx.seeds)
        if p.between in ("sites", "conditions"):
            if p.between == "sites":
                b = acts[p.other_site].flatten(2)
            else:
                _, ref = activations(ctx.reference.model, x, [p.reference_site or p.site])
                b = ref[p.reference_site or p.site].flatten(2)
            biased, debiased = linear_cka(a, b), debiased_cka(a, b)
            t.add("cka", biased, site=p.site)
            certify(t, "cka", biased, (biased - debiased).abs(), p.site, debiased)
        else:
            import torch

            pairs = linear_cka(a[:, None], a[None, :])  # [S, S]
            # A seed's mean CKA with the others shares runs with every other seed's, so those values are not
            # independent: `cka` is one value per disjoint pair, under its first seed, tested as n pairs.
            one = torch.full((ctx.n_seeds,), float("nan"), dtype=pairs.dtype)
            unbiased = one.clone()
            for first, second in disjoint_pairs(list(range(ctx.n_seeds))):
                one[first] = pairs[first, second]
                unbiased[first] = debiased_cka(a[first], a[second])
            t.add("cka", one, site=p.site)
            certify(t, "cka", one, (one - unbiased).abs(), p.site, unbiased)
            for j, seed in enumerate(ctx.seeds):
                t.add("cka_with_seed", pairs[:, j], site=p.site, unit=seed)
        return t


def cross_matrix(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], cka=None) -> torch.Tensor:
    """C[i, j]: linear CKA (or `cka`, e.g. debiased_cka) of site i of one network (a: site -> [N, features])
    with site j of another."""
    import torch

    names, cka = list(a), cka or linear_cka
    return torch.stack([torch.stack([cka(a[i], b[j]) for j in names]) for i in names])


def margins(c: torch.Tensor) -> torch.Tensor:
    """Per site i: C[i, i] minus the largest similarity of i to any other site, in either direction."""
    import torch

    k = c.shape[0]
    off = torch.maximum(c, c.T).masked_fill(torch.eye(k, dtype=torch.bool), float("-inf"))
    return c.diagonal() - off.max(1).values


def pair_table(seeds: list[int], acts: dict[str, torch.Tensor]) -> Table:
    """Every site against every site, on disjoint seed pairs; each pair's values under its first seed (nan for
    the others, which the statistics stage leaves out as partners)."""
    import torch

    names = list(acts)
    t = Table(seeds)
    nan = torch.full((len(seeds),), float("nan"), dtype=torch.float64)
    diag, marg = {s: nan.clone() for s in names}, {s: nan.clone() for s in names}
    full = {(i, j): nan.clone() for i in names for j in names}
    low, matched = nan.clone(), nan.clone()
    # Certificates: the bias gap of each entry a value reads (see the module's docstring).
    diag_unbiased, diag_gap, marg_gap = ({s: nan.clone() for s in names} for _ in range(3))
    all_gap = nan.clone()
    for first, second in disjoint_pairs(list(range(len(seeds)))):  # positions in the seed batch
        c = cross_matrix({s: acts[s][first] for s in names}, {s: acts[s][second] for s in names})
        d = cross_matrix({s: acts[s][first] for s in names}, {s: acts[s][second] for s in names}, debiased_cka)
        gap = (c - d).abs().nan_to_num(nan=float("inf"))
        m = margins(c)
        for k, s in enumerate(names):
            diag[s][first], marg[s][first] = c[k, k], m[k]
            diag_unbiased[s][first], diag_gap[s][first] = d[k, k], gap[k, k]
            marg_gap[s][first] = torch.maximum(gap[k].max(), gap[:, k].max())
            for j, other in enumerate(names):
                full[(s, other)][first] = c[k, j]
        low[first], matched[first] = m.min(), (m > 0).double().mean()
        all_gap[first] = gap.max()
    for s in names:
        t.add("cka", diag[s], site=s)
        certify(t, "cka", diag[s], diag_gap[s], s, diag_unbiased[s])
        t.add("margin", marg[s], site=s)
        certify(t, "margin", marg[s], marg_gap[s], s)
        for other in names:
            t.add("cka_to", full[(s, other)], site=s, unit=names.index(other))
    t.add("min_margin", low)
    certify(t, "min_margin", low, all_gap)
    t.add("matched_fraction", matched)
    certify(t, "matched_fraction", matched, all_gap)
    return t
