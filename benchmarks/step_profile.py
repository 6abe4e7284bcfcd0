"""Where a small training step's time goes, before and after the written-out mlp backward (issue 17).

    .venv/bin/python benchmarks/step_profile.py            # the figures (~3 minutes on 2 busy cores)
    .venv/bin/python benchmarks/step_profile.py --quick    # small settings: checks that it all runs

Writes benchmarks/step_profile.json and .md (--quick: step_profile_quick.*). The workload is the small regime of
benchmarks/trainer_speed.py (sparse parity n=40 k=3, online minibatch 32 drawn fresh, MLP 40-128-2, Adam, one
thread) at 16 lanes (16 seeds) and at 128 lanes (8 learning rates x 16 seeds packed: the same shapes).

- Phases: one step of the training loop's body (refute.training.loop), timed phase by phase, "before" (autograd: objectives.loss, then
  loss.sum().backward()) and "after" (objectives.training_loss: the mlp's forward unrecorded and its backward
  written out) trained in lockstep from the same state, so load hits both alike; every step's losses are checked
  equal. Times are the thread's CPU time (time.thread_time): time spent descheduled by other work is not counted,
  though a busy sibling hyperthread still slows it. Median over steps.
- Kernel floor: each kernel of the step (the ones both paths call) timed alone on the step's own tensors, best of
  many short repeats: what is left when all bookkeeping is gone, and what bit-identity cannot go below.
- One autograd.Function: the same written-out backward behind a custom autograd node (the transparent way to
  take it), timed beside the two, to show why it is not the one taken.
- Whole fit: refute.training.loop.fit, 2,000 steps, at 16 lanes, before (training_loss pointed at autograd) and
  after; CPU and wall seconds.
- The profiler's top operators for the after path.
The load average before and after each part is recorded beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from refute.components import objectives, optimizers  # noqa: E402
from refute.components.batches import Batches  # noqa: E402
from refute.components.models import build_model  # noqa: E402
from refute.components.tasks import build_task  # noqa: E402
from refute.spec.blueprint import blueprint  # noqa: E402
from refute.spec.schema import RunSpec  # noqa: E402
from refute.training import loop  # noqa: E402

aten = torch.ops.aten
PHASES = ["draw", "forward", "loss", "finite check", "backward", "optimizer"]


def small(lanes: int, steps: int = 2000) -> RunSpec:
    return RunSpec.model_validate({
        "task": {"name": "sparse_parity", "params": {"n_bits": 40, "k": 3, "online": True, "n_train": 256,
                                                     "n_val": 256}},
        "model": {"name": "mlp", "params": {"width": 128, "depth": 1}},
        "train": {"optimizer": "adam", "lr": 1.0e-3, "batch_size": 32, "steps": steps, "eval_every": steps},
        "observables": ["loss"], "seeds": lanes})


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Trainer:
    """The training loop's per-step body, phase by phase, on one path."""

    def __init__(self, run: RunSpec, manual: bool):
        self.data = build_task(run.task)
        seeds = list(run.seeds)
        self.model = build_model(run, self.data, seeds)
        self.opt = optimizers.build(run.train, self.model, blueprint(run).model)
        self.batches = Batches(self.data, run.train.batch_size, seeds)
        self.manual, self.times = manual, {p: [] for p in PHASES}

    def step(self, record: bool = True) -> torch.Tensor:
        clock, obj, model = time.thread_time, self.data.objective, self.model
        t0 = clock()
        x, y, batched = self.batches.next()
        t1 = clock()
        if self.manual:
            out, backward_out = model.manual_forward(x, batched)
            t2 = clock()
            loss, grad_out = objectives._loss_and_grad(out, y, obj)
            backward = lambda: backward_out(grad_out())  # noqa: E731
        else:
            out = model(x, batched=batched)
            t2 = clock()
            loss = objectives.loss(out, y, obj)
            backward = lambda: loss.sum().backward()  # noqa: E731
        t3 = clock()
        finite = torch.isfinite(loss.detach()).cpu()
        bool(finite.all())
        t4 = clock()
        self.opt.zero_grad()
        backward()
        t5 = clock()
        self.opt.set_lr_factor(1.0)
        self.opt.step()
        t6 = clock()
        if record:
            for p, a, b in zip(PHASES, (t0, t1, t2, t3, t4, t5), (t1, t2, t3, t4, t5, t6)):
                self.times[p].append(b - a)
        return loss.detach()

    def medians_us(self) -> dict[str, float]:
        """Each phase's median over the steps, but the draw's mean: one step in a block draws for all of them."""
        out = {p: round((statistics.mean(v) if p == "draw" else statistics.median(v)) * 1e6, 1)
               for p, v in self.times.items()}
        out["step"] = round(sum(out.values()), 1)
        return out


def best_of(fns: dict, n: int, rounds: int) -> dict[str, float]:
    """Each function's best mean thread-CPU time over `rounds` interleaved repeats of `n` calls, in us."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, f in fns.items():
            t0 = time.thread_time()
            for _ in range(n):
                f()
            best[k] = min(best[k], (time.thread_time() - t0) / n)
    return {k: round(v * 1e6, 1) for k, v in best.items()}


def kernel_floor(tr: Trainer, rounds: int) -> dict:
    """Each kernel of one step alone on the step's tensors (relu, bias, cross-entropy, Adam), in us per step."""
    m, S, B = tr.model, tr.model.n_seeds, 32
    x, y, _ = tr.batches.next()
    w0, b0, w1, b1 = (t.detach() for t in (m.w0, m.b0, m.w1, m.b1))
    with torch.no_grad():
        h = torch.baddbmm(b0, x, w0)
        a = torch.relu(h)
        o = torch.baddbmm(b1, a, w1)
        lsm = torch._log_softmax(o.reshape(S * B, -1), 1, False)
        t = y.reshape(-1)
        per, tw = aten.nll_loss_forward(lsm, t, None, 0, -100)
        g = torch.ones(S).unsqueeze(1).expand(S, B) / B
        gn = aten.nll_loss_backward(g.reshape(-1), lsm, t, None, 0, -100, tw)
        go = aten._log_softmax_backward_data(gn, lsm, 1, torch.float32).view(S, B, -1)
        ga = go.bmm(w1.transpose(1, 2))
        gh = aten.threshold_backward(ga, a, 0)
    # Adam's fused kernel on copies of the model's parameters, gradients and moments.
    ps = [p.detach().clone() for p in m.parameters()]
    gs, m1, m2 = [torch.randn_like(p) * 1e-3 for p in ps], [torch.zeros_like(p) for p in ps], [torch.zeros_like(p) for p in ps]
    st = [torch.zeros(()) for _ in ps]

    def adam():
        torch._fused_adam_(ps, gs, m1, m2, [], st, lr=1e-3, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8,
                           amsgrad=False, maximize=False)

    gen = torch.Generator().manual_seed(0)
    block = tr.batches.block
    kernels = {
        "forward: baddbmm 40->128": lambda: torch.baddbmm(b0, x, w0),
        "forward: relu": lambda: torch.relu(h),
        "forward: baddbmm 128->2": lambda: torch.baddbmm(b1, a, w1),
        "loss: log_softmax": lambda: torch._log_softmax(o.reshape(S * B, -1), 1, False),
        "loss: nll_loss": lambda: aten.nll_loss_forward(lsm, t, None, 0, -100),
        "loss: mean": lambda: per.view(S, B).mean(1),
        "backward: mean (ones / B)": lambda: torch.ones(S).unsqueeze(1).expand(S, B) / B,
        "backward: nll_loss": lambda: aten.nll_loss_backward(g.reshape(-1), lsm, t, None, 0, -100, tw),
        "backward: log_softmax": lambda: aten._log_softmax_backward_data(gn, lsm, 1, torch.float32),
        "backward: bmm grad w1": lambda: a.transpose(1, 2).bmm(go),
        "backward: sum grad b1": lambda: go.sum([1], keepdim=True),
        "backward: bmm grad of hidden": lambda: go.bmm(w1.transpose(1, 2)),
        "backward: relu": lambda: aten.threshold_backward(ga, a, 0),
        "backward: bmm grad w0": lambda: x.transpose(1, 2).bmm(gh),
        "backward: sum grad b0": lambda: gh.sum([1], keepdim=True),
        "optimizer: fused Adam kernel": adam,
        "finite check: isfinite + all": lambda: bool(torch.isfinite(per).all()),
    }
    per_step = best_of(kernels, 3, rounds)
    # Drawing: the random bits of one block of steps, per seed (torch's Mersenne twister, one 32-bit draw per
    # bit), and the rest of the task's sample (sign, labels) and the stacking, each spread over the block's steps.
    n = block * B
    draws = best_of({
        "randint": lambda: torch.randint(0, 2, (n, 40), generator=gen, dtype=torch.float32),
        "sample": lambda: tr.data.sample(gen, n),
    }, 1, max(3, rounds // 10))
    xs = [torch.zeros(n, 40) for _ in range(S)]
    stack = best_of({"stack": lambda: torch.stack(xs)}, 1, max(3, rounds // 10))["stack"]
    per_step["draw: random bits (Mersenne twister)"] = round(draws["randint"] * S / block, 1)
    per_step["draw: rest of sample + stacking"] = round(((draws["sample"] - draws["randint"]) * S + stack) / block, 1)
    groups: dict[str, float] = {}
    for k, v in per_step.items():
        phase = k.split(":")[0]
        groups[phase] = round(groups.get(phase, 0.0) + v, 1)
    return {"kernels_us": per_step, "by_phase_us": groups, "total_us": round(sum(per_step.values()), 1),
            "block_steps": block, "random_numbers_per_step": S * B * 40}


class OneNode(torch.autograd.Function):
    """The written-out backward behind one custom autograd node (relu, bias, cross-entropy): transparent to the
    loop (loss.sum().backward() works), but measured below to cost what it saves."""

    @staticmethod
    def forward(ctx, x, y, w0, b0, w1, b1):
        h = torch.baddbmm(b0, x, w0)
        a = torch.relu(h)
        o = torch.baddbmm(b1, a, w1)
        S, B = o.shape[:2]
        lsm = torch._log_softmax(o.reshape(S * B, -1), 1, False)
        t = y.reshape(-1)
        per, tw = aten.nll_loss_forward(lsm, t, None, 0, -100)
        ctx.saved = (x, t, w1, a, lsm, tw, S, B)
        return per.view(S, B).mean(1)

    @staticmethod
    def backward(ctx, g):
        x, t, w1, a, lsm, tw, S, B = ctx.saved
        g = g.unsqueeze(1).expand(S, B) / B
        gn = aten.nll_loss_backward(g.reshape(-1), lsm, t, None, 0, -100, tw)
        go = aten._log_softmax_backward_data(gn, lsm, 1, torch.float32).view(S, B, -1)
        ga = go.bmm(w1.transpose(1, 2))
        gh = aten.threshold_backward(ga, a, 0)
        return None, None, x.transpose(1, 2).bmm(gh), gh.sum([1], keepdim=True), a.transpose(1, 2).bmm(go), \
            go.sum([1], keepdim=True)


def three_ways(tr: Trainer, rounds: int) -> dict:
    """Forward + loss + backward (no draw, no optimizer) on one batch: autograd, one custom node, written out."""
    m, obj = tr.model, tr.data.objective
    x, y, batched = tr.batches.next()
    params = list(m.parameters())

    def autograd():
        m.zero_grad(set_to_none=True)
        objectives.loss(m(x, batched=batched), y, obj).sum().backward()

    def one_node():
        m.zero_grad(set_to_none=True)
        OneNode.apply(x, y, m.w0, m.b0, m.w1, m.b1).sum().backward()

    def written_out():
        m.zero_grad(set_to_none=True)
        objectives.training_loss(m, x, y, batched, obj)[1]()

    grads = {}
    for name, f in (("autograd", autograd), ("one autograd.Function", one_node), ("written out", written_out)):
        f()
        grads[name] = [p.grad.clone() for p in params]
    equal = {k: all(torch.equal(a, b) for a, b in zip(grads["autograd"], v)) for k, v in grads.items()}
    return {"us": best_of({"autograd": autograd, "one autograd.Function": one_node, "written out": written_out},
                          3, rounds), "bit_identical_to_autograd": equal}


def profile_table(tr: Trainer, steps: int) -> list[dict]:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            tr.step(record=False)
    rows = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)[:12]
    return [{"op": e.key, "calls_per_step": round(e.count / steps, 2),
             "self_us_per_step": round(e.self_cpu_time_total / steps, 1)} for e in rows]


def lanes_part(lanes: int, warm: int, steps: int, rounds: int) -> dict:
    print(f"{lanes} lanes", flush=True)
    out: dict = {"lanes": lanes, "load_before": load()}
    run = small(lanes)
    before, after = Trainer(run, manual=False), Trainer(run, manual=True)
    for i in range(warm + steps):  # lockstep: the same batches and weights on both paths, step for step
        la, lb = before.step(i >= warm), after.step(i >= warm)
        if not torch.equal(la, lb):
            raise SystemExit(f"{lanes} lanes: the paths' losses differ at step {i}")
    out["phases_us"] = {"before (autograd)": before.medians_us(), "after (written out)": after.medians_us()}
    out["kernel_floor"] = kernel_floor(after, rounds)
    out["forward_loss_backward_us"] = three_ways(after, rounds)
    out["profile_after"] = profile_table(after, max(20, steps // 4))
    # The loss observable (train and validation loss on 256 examples each), as the training loop evaluates it.
    seeds = list(run.seeds)
    evaluate = best_of({"observe": lambda: loop._observe(run, after.model, after.data, seeds, 0, True, 1e-3)}, 1,
                       max(5, rounds // 2))["observe"]
    out["observe_us"] = {"per_evaluation": evaluate, "per_step_every_100": round(evaluate / 100, 1),
                         "per_step_every_2000": round(evaluate / 2000, 2)}
    out["load_after"] = load()
    return out


def whole_fit(steps: int) -> dict:
    """refute.training.loop.fit at 16 lanes, before (training_loss pointed at autograd's path) and after."""
    print("whole fit", flush=True)
    run, fast = small(16, steps), objectives.training_loss

    def autograd_only(model, x, y, batched, objective):
        per_seed = objectives.loss(model(x, batched=batched), y, objective)
        return per_seed, lambda: per_seed.sum().backward()

    out: dict = {"steps": steps, "load_before": load()}
    res = {"before (autograd)": [], "after (written out)": []}
    for _ in range(2):  # interleaved, best of two
        for name, fn in (("before (autograd)", autograd_only), ("after (written out)", fast)):
            objectives.training_loss = fn
            try:
                w, c = time.perf_counter(), time.process_time()
                r = loop.fit(run, log=lambda m: None)
                res[name].append((time.process_time() - c, time.perf_counter() - w, r))
            finally:
                objectives.training_loss = fast
    a, b = res["before (autograd)"][0][2], res["after (written out)"][0][2]
    same = a.metrics.equals(b.metrics) and all(torch.equal(a.state[k], b.state[k]) for k in a.state)
    for name, v in res.items():
        out[name] = {"cpu_s": round(min(x[0] for x in v), 3), "wall_s": round(min(x[1] for x in v), 3)}
    out["identical_metrics_and_weights"] = same
    out["load_after"] = load()
    return out


def markdown(r: dict) -> str:
    lines = [f"# Small-step profile (issue 17)\n\n{r['machine']}, torch {r['torch']}, {r['threads']} thread, "
             f"{r['when']}. Times are thread CPU time per training step in microseconds: each phase's median over "
             f"{r['steps']} steps (128 lanes: half as many) after {r['warm']} warm-up steps, but the draw's mean, "
             "since one step in a block draws for all of them. Figures taken under load are inflated (load average "
             "beside each part). Command: `python benchmarks/step_profile.py`.\n"]
    for part in r["lanes"]:
        L = part["lanes"]
        b, a = part["phases_us"]["before (autograd)"], part["phases_us"]["after (written out)"]
        kf = part["kernel_floor"]["by_phase_us"]
        lines.append(f"\n## {L} lanes (load {part['load_before']} -> {part['load_after']})\n")
        lines.append("| phase | before (autograd) | after (written out) | kernel floor |\n|---|---|---|---|")
        for p in PHASES:
            lines.append(f"| {p} | {b[p]} | {a[p]} | {kf.get(p, '')} |")
        lines.append(f"| **step** | **{b['step']}** | **{a['step']}** | "
                     f"**{part['kernel_floor']['total_us']}** |")
        speed = b["step"] / a["step"]
        lines.append(f"\nAfter/before: {speed:.2f}x faster per step. Every step's losses equal on both paths "
                     "(lockstep check).\n")
        if "observe_us" in part:
            o = part["observe_us"]
            lines.append(f"The loss observable (train and validation loss, 256 examples each), the same on both paths: "
                         f"{o['per_evaluation']} us per evaluation, {o['per_step_every_100']} us a step at "
                         f"eval_every 100, {o['per_step_every_2000']} at 2,000 (trainer_speed's).\n")
        t = part["forward_loss_backward_us"]
        lines.append("Forward + loss + backward on one batch (best of short repeats): " + ", ".join(
            f"{k} {v} us (bit-identical: {t['bit_identical_to_autograd'][k]})" for k, v in t["us"].items()) + ".\n")
        lines.append("Kernel floor, each kernel alone on the step's tensors (us per step):\n")
        lines.append("| kernel | us |\n|---|---|")
        lines += [f"| {k} | {v} |" for k, v in part["kernel_floor"]["kernels_us"].items()]
        lines.append(f"\nA draw covers {part['kernel_floor']['block_steps']} steps; a step needs "
                     f"{part['kernel_floor']['random_numbers_per_step']} random bits, one 32-bit Mersenne-twister "
                     "draw each.\n")
        lines.append("Top operators, after (torch.profiler, self CPU per step):\n")
        lines.append("| op | calls/step | self us/step |\n|---|---|---|")
        lines += [f"| {e['op']} | {e['calls_per_step']} | {e['self_us_per_step']} |" for e in part["profile_after"]]
    f = r["whole_fit"]
    lines.append(f"\n## Whole fit: 16 lanes x {f['steps']} steps (load {f['load_before']} -> {f['load_after']})\n")
    lines.append("| path | CPU s | wall s |\n|---|---|---|")
    for k in ("before (autograd)", "after (written out)"):
        lines.append(f"| {k} | {f[k]['cpu_s']} | {f[k]['wall_s']} |")
    lines.append(f"\nMetrics and weights identical: {f['identical_metrics_and_weights']}.\n")
    return "\n".join(lines) + "\n"


# What the figures mean (kept with the script, so a rerun keeps the reading beside the numbers).
NOTES = """
## Reading

- **Noise.** Both paths run in lockstep, so load hits them alike, but a loaded machine still moves single phases
  by 10-30%: the optimizer and draw phases run the same code on both paths, and their difference is the noise.

- **Where the time goes.** At 16 lanes the step is small kernels and the Python and autograd around them:
  the kernels alone (the floor column) are well under the step; the rest is per-op dispatch from Python, autograd's
  graph recording and engine, and the optimizer's bookkeeping. At 128 lanes the kernels are most of the step
  (the matrix products, the elementwise relu and its backward, Adam's fused kernel, and drawing the random bits).
- **The written-out backward** (`refute.components.models._mlp_backward`, chosen by
  `objectives.training_loss`): the forward without recording and the backward by the kernels autograd calls.
  Bit-identical (every step's loss in lockstep above; gradients, strides and weights in tests/test_fast_step.py for
  relu, gelu, tanh and linear, with and without bias, token and dense inputs, both objectives, muP, deep linear,
  clipping; tests/test_chunk_invariance.py and the pinned hashes of tests/test_spec.py unchanged).
- **One autograd.Function** (the same written-out backward behind one custom node, so that `loss.sum().backward()`
  would still work): bit-identical too, but no faster than autograd at 16 lanes: the Python custom node costs what it saves.
  Not taken.
- **What bounds it, bit-identically.** The kernels are fixed by the numbers: another kernel (a fused
  softmax-cross-entropy, torch.compile's fusions, another reduction order or GEMM blocking) rounds differently, so
  the floor column is the floor; the products already go to MKL as one batched GEMM each. What is left above it
  is one Python-level dispatch per op (about 35 ops a step) and the optimizer's bookkeeping around its fused
  kernel (list building, the step counters, the 16-float units; refute.components.optimizers). Drawing is
  bounded by torch's Mersenne twister, one 32-bit draw per input bit (40 x 32 per seed per step); numpy's MT19937
  on the same state is not faster once its output is a float tensor.
- **At 128 lanes** (a packed sweep) the written-out pass saves the same bookkeeping, now a small share: the
  step is its kernels, and the relu, its backward and the bias sums move 2 MB tensors each.
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small settings: checks that it all runs")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks", help="folder for step_profile.json/.md")
    ap.add_argument("--render", type=Path, help="only rewrite the .md from this .json")
    a = ap.parse_args()
    if a.render:
        r = json.loads(a.render.read_text())
        a.render.with_suffix(".md").write_text(markdown(r) + NOTES)
        return
    torch.set_num_threads(1)
    warm, steps, rounds, fit_steps = (20, 30, 5, 100) if a.quick else (200, 400, 60, 2000)
    r = {"machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores", "torch": torch.__version__,
         "threads": 1, "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "warm": warm, "steps": steps}
    r["lanes"] = [lanes_part(16, warm, steps, rounds), lanes_part(128, warm, steps // 2, max(5, rounds // 4))]
    r["whole_fit"] = whole_fit(fit_steps)
    name = "step_profile_quick" if a.quick else "step_profile"
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / f"{name}.json").write_text(json.dumps(r, indent=1) + "\n")
    (a.out / f"{name}.md").write_text(markdown(r) + NOTES)
    print(markdown(r))


if __name__ == "__main__":
    main()
