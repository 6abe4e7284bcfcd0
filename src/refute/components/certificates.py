"""Health certificates: how far a costly estimator's value can be trusted, logged beside the value.

An estimator that certifies its metric m logs, in the same tidy table and at the same (seed, step):
- `m.certified`: 1 when the value passed its estimator's check, 0 when it did not (nan: no value);
- `m.<diagnostic>`: the numbers the check read, e.g. `sharpness.residual`.
For a probe output the companions sit before the site: `cka/cka.certified@hidden.0`. The statistics
stage (refute.stats.health) reads the certificates of the evaluations each run's value depends on; a
prediction that would be decided on a value whose certificate failed is undecided instead, with the
reason.

The checks and their tolerances (chosen from known answers; README, "Estimator health"):
- Lanczos top Hessian eigenvalue (sharpness): the relative residual ‖Hv − θv‖ / |θ| of the top Ritz
  pair (θ, v) — some eigenvalue lies within the residual of θ — at most LANCZOS_RESIDUAL.
- Linear probe: the logistic regression converged (fewer iterations than max_iter) on the target and,
  for control_accuracy and selectivity, on the control task too. The control's gap above its chance
  rate is reported (`selectivity.control_gap`), not checked: a control the representation cannot learn
  is a finding about the representation, not a failed estimate.
- Linear CKA: |biased − debiased| at most CKA_BIAS_GAP. The biased estimator's finite-sample bias
  pulls CKA towards 1 when examples are few against the features; the debiased one (unbiased HSIC,
  Song et al. 2012; Nguyen et al. 2021) removes it, so a large gap says there were too few examples.
"""

from __future__ import annotations

CERTIFIED = "certified"
LANCZOS_RESIDUAL = 0.05
CKA_BIAS_GAP = 0.05
# The diagnostic companions estimators log (so readers can tell them from metrics).
DIAGNOSTICS = ("residual", "iterations", "control_gap", "debiased", "bias_gap")


def companion(metric: str, name: str) -> str:
    """The name under which `metric`'s companion `name` is logged (a probe address keeps its site last)."""
    if "/" in metric and "@" in metric.split("/", 1)[1]:
        head, site = metric.rsplit("@", 1)
        return f"{head}.{name}@{site}"
    return f"{metric}.{name}"


def certificate_of(metric: str) -> str:
    return companion(metric, CERTIFIED)


def is_companion(metric: str) -> bool:
    """True for a certificate or diagnostic companion of another metric (not a measurement in itself)."""
    name = metric.split("/", 1)[-1].split("@", 1)[0]
    return any(name.endswith(f".{d}") for d in (CERTIFIED, *DIAGNOSTICS))


def diagnostics(metric: str) -> list[str]:
    """The companions that may say why `metric`'s certificate failed."""
    return [companion(metric, d) for d in DIAGNOSTICS]
