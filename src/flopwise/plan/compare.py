"""Which cloud, which accelerator, how many: every (cloud, accelerator, GPU count) that can do a job, with
time, cost and $ per million tokens, on demand and on spot, filtered and reduced to a Pareto front.

Training: the training planner is run once per (accelerator, GPU count) — the price only scales the
cost — for counts that double from the smallest that can hold the model states up to a cap, stopping
early once doubling the GPUs no longer cuts the time by a meaningful share. Spot rows add the expected
preemption overhead (estimate/economics.spot_overhead). Serving: the serving planner's best layout per
accelerator (estimate/plan serving), priced per cloud.

The Pareto front keeps the rows no other row beats on both cost and time.
"""

from __future__ import annotations

import math
import time

import numpy as np
from pydantic import BaseModel

from flopwise.catalog.prices import Price, PriceCatalog
from flopwise.spec.precision import matmul_rate_key
from flopwise.errors import FlopwiseError
from flopwise.estimate.economics import (
    DEFAULT_SPOT_INTERRUPTIONS_PER_NODE_MONTH,
    DEFAULT_SPOT_RESTART_S,
    HOURS_PER_MONTH,
    spot_overhead,
)
from flopwise.estimate.memory import model_state_bytes
from flopwise.spec.model import ModelSpec

#: Accelerators that cannot train (inference-only silicon).
INFERENCE_ONLY = frozenset({"inf2"})
#: Largest GPU count `compare` tries by default.
DEFAULT_MAX_GPUS = 4096
#: Stop doubling the GPU count once it cuts the time by less than this share (scaling has saturated).
MIN_SPEEDUP_PER_DOUBLING = 0.15
#: Best achievable fraction of peak used for the quick lower bounds that skip hopeless counts.
LOWER_BOUND_MFU = 0.75


class CompareRow(BaseModel):
    cloud: str
    accelerator: str
    gpus: int
    market: str  # on-demand | spot
    usd_per_gpu_hour: float
    price_date: str
    price_source: str
    region: str
    instance_type: str
    days: float  # training: wall-clock days (spot: expected, with preemptions); serving: 0 (see latency_s)
    gpu_hours: float
    cost_usd: float  # training: the run; serving: one hour of the replicas
    usd_per_m_tokens: float
    mfu: float | None = None
    plan: str = ""
    spot_overhead: float | None = None
    latency_s: float | None = None  # serving: end-to-end latency of one request
    tpot_s: float | None = None
    ttft_p99_s: float | None = None
    tokens_per_s: float | None = None
    pareto: bool = False
    flags: list[str] = []


class CompareResult(BaseModel):
    mode: str  # train | serve
    model: str
    tokens: float | None
    seq_len: int | None
    rows: list[CompareRow]  # after filters, sorted
    total_rows: int  # before filters
    pareto: list[CompareRow]  # the front, fastest first
    skipped: dict[str, str]  # accelerator -> why it has no row
    price_sources: list[str]
    assumptions: list[str]
    filters: dict[str, float | None]
    plans_run: int
    elapsed_s: float


def pareto_mask(cost: np.ndarray, t: np.ndarray) -> np.ndarray:
    """True where no other point has cost <= and time <= with one of them strictly smaller."""
    c = np.asarray(cost, dtype=float)[:, None]
    d = np.asarray(t, dtype=float)[:, None]
    dominated = ((c.T <= c) & (d.T <= d) & ((c.T < c) | (d.T < d))).any(axis=1)
    return ~dominated


def _flags(p: Price) -> list[str]:
    out = []
    text = (p.notes + " " + p.instance_type).lower()
    if "suspect" in text:
        out.append("suspect-price")
    if "gpu only" in text:
        out.append("gpu-only")
    if any(k in p.date.lower() for k in ("(v7)", "(est.)", "v6")):
        out.append("older-data")
    return out


def _offers(catalog: PriceCatalog, clouds: list[str] | None, accelerators: list[str] | None, spot: bool):
    from flopwise.catalog.accelerators import get_accelerator

    known: dict[str, object] = {}
    skipped: dict[str, str] = {}
    out = []
    want_clouds = {c.lower() for c in clouds} if clouds else None
    want_accs = {get_accelerator(a).id for a in accelerators} if accelerators else None
    if want_clouds:
        missing = want_clouds - set(catalog.clouds())
        if missing:
            raise FlopwiseError(f"no prices for cloud(s) {', '.join(sorted(missing))}; the catalog has: {', '.join(catalog.clouds())}")
    for p, market, usd in catalog.offers():
        if want_clouds and p.cloud not in want_clouds:
            continue
        if market == "spot" and not spot:
            continue
        if p.accelerator not in known:
            try:
                known[p.accelerator] = get_accelerator(p.accelerator)
            except FlopwiseError:
                known[p.accelerator] = None
        acc = known[p.accelerator]
        if acc is None:
            skipped[p.accelerator] = "not in flopwise's accelerator catalog"
            continue
        if want_accs and acc.id not in want_accs:
            continue
        out.append((acc, p, market, usd))
    return out, skipped


def _pow2_at_least(x: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(x, 1.0))))


# ---- training ------------------------------------------------------------------------------------------------

def compare_training(model: ModelSpec, tokens: float, catalog: PriceCatalog, seq_len: int | None = None,
                     global_batch: int | None = None, precision: str = "bf16", optimizer: str = "adam",
                     clouds: list[str] | None = None, accelerators: list[str] | None = None,
                     max_gpus: int = DEFAULT_MAX_GPUS, max_days: float | None = None, max_usd: float | None = None,
                     spot: bool = True, spot_interruptions_per_node_month: float = DEFAULT_SPOT_INTERRUPTIONS_PER_NODE_MONTH,
                     spot_restart_s: float = DEFAULT_SPOT_RESTART_S, sort: str = "cost",
                     workers: int | None = 1) -> CompareResult:
    """Every (cloud, accelerator, GPU count) that can train `model` on `tokens` tokens.

    `workers`: processes to spread the accelerators over (1: serial, the default for library use; None: one
    per CPU, up to 16, forked on Linux — what the CLI uses).
    """
    from flopwise.catalog.systems import default_cluster
    from flopwise.estimate.flops import training_flops_per_token

    t0 = time.perf_counter()
    if not tokens > 0:
        raise FlopwiseError(f"--tokens must be positive, got {tokens:g}")
    if max_gpus < 1:
        raise FlopwiseError(f"--max-gpus must be at least 1, got {max_gpus}")
    if sort not in ("cost", "time", "usd-per-m-tokens"):
        raise FlopwiseError(f"--sort must be cost, time or usd-per-m-tokens, got '{sort}'")
    from flopwise.plan.training import default_seq_len

    s = seq_len or default_seq_len(model)
    offers, skipped = _offers(catalog, clouds, accelerators, spot)
    by_acc: dict[str, list] = {}
    for acc, p, market, usd in offers:
        if acc.id in INFERENCE_ONLY:
            skipped[acc.id] = "inference-only accelerator"
            continue
        by_acc.setdefault(acc.id, []).append((acc, p, market, usd))
    states = model_state_bytes(model.params_total, precision, optimizer).total_bytes
    flops_per_token = training_flops_per_token(model, s).total_flops
    rows: list[CompareRow] = []
    plans_run = 0
    tasks = []
    for acc_id, acc_offers in by_acc.items():
        acc = acc_offers[0][0]
        try:
            peak = acc.peak(matmul_rate_key(precision))
        except FlopwiseError as exc:
            skipped[acc_id] = str(exc)
            continue
        cluster = default_cluster(acc)
        cheapest = min(u for *_, u in acc_offers)
        gpu_h_lb = tokens * flops_per_token / (peak * LOWER_BOUND_MFU) / 3600
        if max_usd is not None and gpu_h_lb * cheapest > max_usd:
            skipped[acc_id] = f"at least ${gpu_h_lb * cheapest:,.0f} even at {LOWER_BOUND_MFU:.0%} MFU"
            continue
        n0 = _pow2_at_least(states / (0.95 * acc.memory_bytes))
        tasks.append((acc_id, (model, cluster, tokens, s, global_batch, precision, optimizer, flops_per_token, peak,
                               n0, max_gpus, max_days, gpu_h_lb)))
    results = _run_sweeps(tasks, workers)
    for acc_id, (points, why, n_plans) in results.items():
        plans_run += n_plans
        if not points:
            skipped[acc_id] = why if len(why) < 200 else why[:197] + "..."
            continue
        gpn = next(t[1][1].gpus_per_node for t in tasks if t[0] == acc_id)
        for n, train_s, days0, gpu_h0, mfu, plan_label in points:
            for _, p, market, usd in by_acc[acc_id]:
                days, gpu_h, over = days0, gpu_h0, None
                flags = _flags(p)
                if market == "spot":
                    so = spot_overhead(train_s, n, gpn, model.params_total, spot_interruptions_per_node_month, spot_restart_s)
                    if not so.feasible:
                        continue
                    over = so.overhead_fraction
                    days, gpu_h = days * (1 + over), gpu_h * (1 + over)
                    if n > gpn:
                        flags = flags + ["multi-node-spot"]
                cost = gpu_h * usd
                rows.append(CompareRow(
                    cloud=p.cloud, accelerator=acc_id, gpus=n, market=market, usd_per_gpu_hour=usd, price_date=p.date,
                    price_source=p.source, region=p.region, instance_type=p.instance_type, days=days, gpu_hours=gpu_h,
                    cost_usd=cost, usd_per_m_tokens=cost / tokens * 1e6, mfu=mfu, plan=plan_label,
                    spot_overhead=over, flags=flags,
                ))
    total = len(rows)
    kept = [r for r in rows if (max_days is None or r.days <= max_days) and (max_usd is None or r.cost_usd <= max_usd)]
    _mark_pareto(kept, lambda r: (r.cost_usd, r.days))
    key = {"cost": lambda r: (r.cost_usd, r.days), "time": lambda r: (r.days, r.cost_usd),
           "usd-per-m-tokens": lambda r: (r.usd_per_m_tokens, r.days)}[sort]
    kept.sort(key=key)
    front = sorted((r for r in kept if r.pareto), key=lambda r: (r.days, r.cost_usd))
    assumptions = [
        f"training {model.name} ({model.params_total / 1e9:,.1f}B params) on {tokens:.3g} tokens at seq {s}, "
        f"{'global batch ' + str(global_batch) if global_batch else '~4M-token batches'}, {precision}, {optimizer}",
        f"{flops_per_token:.3g} FLOPs/token (6N + LM head + attention); time from flopwise's training planner "
        "(best parallel layout per GPU count, estimator scored in docs/accuracy.md)",
        f"GPU counts: powers of two from the smallest that can hold {states / 2**30:,.0f} GiB of model states, "
        f"up to {max_gpus}, stopping once doubling saves < {MIN_SPEEDUP_PER_DOUBLING:.0%} of the time",
        "cost = GPU-hours x the cheapest catalog price of that cloud for that accelerator (any region); "
        "excludes storage, egress, and reserved/committed-use discounts (typically 30-60%)",
    ]
    if spot:
        assumptions.append(
            f"spot: {spot_interruptions_per_node_month:.0%} of nodes preempted per month, {spot_restart_s / 60:.0f} min "
            "restart, Daly-optimal checkpoints (14 B/param at 1 GB/s per node); assumes spot capacity for every node "
            "can be (re)acquired, which is optimistic for multi-node jobs")
    return CompareResult(
        mode="train", model=model.name, tokens=tokens, seq_len=s, rows=kept, total_rows=total, pareto=front,
        skipped=skipped, price_sources=list(catalog.sources), assumptions=assumptions,
        filters={"max_days": max_days, "max_usd": max_usd, "max_gpus": float(max_gpus)}, plans_run=plans_run,
        elapsed_s=time.perf_counter() - t0,
    )


def _sweep(model, cluster, tokens, s, global_batch, precision, optimizer, flops_per_token, peak, n, max_gpus,
           max_days, gpu_h_lb):
    """Plan GPU counts n, 2n, 4n, ... for one accelerator: ([(n, train_s, days, gpu_hours, mfu, plan)], why, plans)."""
    from flopwise.plan.training import default_global_batch
    from flopwise.estimate.training import TrainingJob
    from flopwise.plan.search import search

    points, why, plans, prev_days = [], "does not fit", 0, None
    while n <= max_gpus:
        if max_days is not None and gpu_h_lb / n / 24 > max_days:
            why = f"more than {max_days:g} days on up to {n} GPUs"
            n *= 2
            continue
        b = global_batch or default_global_batch(s, n)
        job = TrainingJob(model, cluster, b, s, precision, optimizer, tokens)
        plans += 1
        res = search(job, n)
        if not len(res.ranked):
            why = res.why_none()
            if points:
                break
            n *= 2
            continue
        est = _TrainPoint(res, tokens, flops_per_token, peak)
        points.append((n, est.train_s, est.days, est.gpu_hours, est.mfu, res.plan(0).label()))
        if prev_days is not None and est.days > prev_days * (1 - MIN_SPEEDUP_PER_DOUBLING):
            break
        prev_days = est.days
        n *= 2
    return points, why, plans


def _sweep_task(task):
    acc_id, args = task
    return acc_id, _sweep(*args)


def _run_sweeps(tasks: list, workers: int | None) -> dict:
    """Run the per-accelerator sweeps, in forked worker processes where that is cheap (Linux), else serially."""
    import os
    import sys

    if workers is None:
        workers = min(os.cpu_count() or 1, 16, len(tasks)) if sys.platform.startswith("linux") else 1
    if workers > 1 and len(tasks) > 1:
        try:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
                return dict(pool.map(_sweep_task, tasks))
        except (OSError, ValueError, RuntimeError, ImportError):
            pass  # no fork, no processes (sandbox), broken pool: do it here
    return dict(_sweep_task(t) for t in tasks)


class _TrainPoint:
    """Time and MFU of a search's best plan — the same arithmetic as plan.training.plan_training."""

    def __init__(self, res, tokens: float, flops_per_token: float, peak: float):
        job, n = res.job, res.n_gpus
        step = float(res.results.step_s[int(res.ranked[0])])
        tokens_per_s = job.global_batch * job.seq_len / step
        self.train_s = tokens / tokens_per_s
        self.days = self.train_s / 86400
        self.gpu_hours = self.train_s * n / 3600
        self.mfu = tokens_per_s / n * flops_per_token / peak


def _mark_pareto(rows: list[CompareRow], key) -> None:
    if not rows:
        return
    pts = np.array([key(r) for r in rows], dtype=float)
    mask = pareto_mask(pts[:, 0], pts[:, 1])
    for r, m in zip(rows, mask):
        r.pareto = bool(m)


# ---- serving -------------------------------------------------------------------------------------------------

def compare_serving(model: ModelSpec, input_tokens: int, output_tokens: int, catalog: PriceCatalog,
                    weights: str = "bf16", kv: str = "bf16", ttft_p99_s: float | None = None,
                    tpot_s: float | None = None, rate_per_s: float | None = None, max_gpus: int | None = None,
                    clouds: list[str] | None = None, accelerators: list[str] | None = None,
                    max_usd_per_hour: float | None = None, max_latency_s: float | None = None, spot: bool = True,
                    spot_interruptions_per_node_month: float = DEFAULT_SPOT_INTERRUPTIONS_PER_NODE_MONTH,
                    spot_restart_s: float = DEFAULT_SPOT_RESTART_S, sort: str = "cost") -> CompareResult:
    """Every (cloud, accelerator, GPU count) that serves `model` within the targets, priced per cloud."""
    from flopwise.plan.serving import ServingTargets, compare_accelerators

    t0 = time.perf_counter()
    if sort not in ("cost", "time", "usd-per-m-tokens"):
        raise FlopwiseError(f"--sort must be cost, time or usd-per-m-tokens, got '{sort}'")
    offers, skipped = _offers(catalog, clouds, accelerators, spot)
    accs = {a.id: a for a, *_ in offers}
    targets = ServingTargets(ttft_p99_s=ttft_p99_s, tpot_s=tpot_s)
    res = compare_accelerators(model, input_tokens, output_tokens, targets, weights, kv, rate_per_s, max_gpus,
                               accelerators=list(accs.values()), prices={a: (1.0, None, "") for a in accs})
    skipped.update(res.rejected)
    per_acc: dict[str, list] = {}
    for r in res.ranked + res.unpriced:
        per_acc.setdefault(r.accelerator, []).append(r)
    # spot: lost capacity while a preempted replica restarts (interruptions per node-hour x restart hours)
    lost = spot_interruptions_per_node_month / HOURS_PER_MONTH * spot_restart_s / 3600
    rows: list[CompareRow] = []
    for acc, p, market, usd in offers:
        for r in per_acc.get(acc.id, []):
            tok_s = r.total_tokens_per_s_per_gpu * r.gpus  # capacity of the replicas at their operating point
            if rate_per_s:  # what is actually served when the replicas are sized for a rate
                tok_s = min(tok_s, rate_per_s * (input_tokens + output_tokens))
            over = lost if market == "spot" else None
            eff_usd = usd * (1 + (over or 0.0))
            per_hour = eff_usd * r.gpus
            rows.append(CompareRow(
                cloud=p.cloud, accelerator=acc.id, gpus=r.gpus, market=market, usd_per_gpu_hour=usd, price_date=p.date,
                price_source=p.source, region=p.region, instance_type=p.instance_type, days=0.0, gpu_hours=float(r.gpus),
                cost_usd=per_hour, usd_per_m_tokens=per_hour / 3600 / tok_s * 1e6 if tok_s > 0 else math.inf,
                plan=f"tp={r.tp}" + (f" pp={r.pp}" if r.pp > 1 else "")
                     + (f" x {r.replicas} replicas" if r.replicas > 1 else "") + f", batch {r.concurrency_per_replica:.0f}",
                spot_overhead=over, latency_s=r.e2e_s, tpot_s=r.tpot_s, ttft_p99_s=r.ttft_p99_s, tokens_per_s=tok_s,
                flags=_flags(p) + (["preemptible"] if market == "spot" else []),
            ))
    total = len(rows)
    kept = [r for r in rows if (max_usd_per_hour is None or r.cost_usd <= max_usd_per_hour)
            and (max_latency_s is None or (r.latency_s or 0) <= max_latency_s)]
    _mark_pareto(kept, lambda r: (r.usd_per_m_tokens, r.latency_s))
    key = {"cost": lambda r: (r.usd_per_m_tokens, r.latency_s), "time": lambda r: (r.latency_s, r.usd_per_m_tokens),
           "usd-per-m-tokens": lambda r: (r.usd_per_m_tokens, r.latency_s)}[sort]
    kept.sort(key=key)
    front = sorted((r for r in kept if r.pareto), key=lambda r: (r.latency_s, r.usd_per_m_tokens))
    assumptions = [
        f"serving {model.name}: {input_tokens} input + {output_tokens} output tokens per request, {weights} weights, "
        f"{kv} KV cache, continuous batching; targets: {targets.describe()}",
        "per accelerator: the serving planner's best layout and batch (largest that fits and meets the targets)",
        "cost per hour = GPUs x the cheapest catalog price of that cloud; $/M tokens blended over input + output"
        + (f"; replicas sized for {rate_per_s:g} requests/s, $/M tokens over the tokens that rate brings" if rate_per_s
           else "; one replica busy all the time"),
        "Pareto front: $/M tokens vs end-to-end latency of one request",
    ]
    if spot:
        assumptions.append(f"spot: {spot_interruptions_per_node_month:.0%} of nodes preempted per month, "
                           f"{spot_restart_s / 60:.0f} min to replace one; needs on-demand fallback for availability")
    return CompareResult(
        mode="serve", model=model.name, tokens=None, seq_len=input_tokens + output_tokens, rows=kept, total_rows=total,
        pareto=front, skipped=skipped, price_sources=list(catalog.sources), assumptions=assumptions,
        filters={"max_usd_per_hour": max_usd_per_hour, "max_latency_s": max_latency_s}, plans_run=len(accs),
        elapsed_s=time.perf_counter() - t0,
    )
