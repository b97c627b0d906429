"""Serving planner: choose the tensor/pipeline split and the batch that meet latency targets, size the
replicas for a request rate (with peaks and growth), and rank accelerators by cost per token.

For one layout (tp × pp GPUs per replica) the planner evaluates a grid of concurrencies at once
(NumPy) with the steady-state continuous-batching model of `estimate/serving.py`; throughput grows
with concurrency and so do TTFT and TPOT, so the best operating point is the largest concurrency that
fits in the KV cache and meets the targets. A replica's sustainable request rate is the one at that
point; replicas = ceil(rate / sustainable rate).
"""

from __future__ import annotations

import math
import time

import numpy as np
from pydantic import BaseModel

from flopwise.errors import FlopwiseError, InfeasiblePlan
from flopwise.estimate import serving_efficiency as se
from flopwise.estimate.serving import (
    PhysicsStack,
    ReplicaPhysics,
    ServingEstimate,
    cost_fields,
    estimate_continuous,
    latencies,
    normalise_precision,
    solve_concurrency,
)
from flopwise.report.format import GIB
from flopwise.spec.hardware import Cluster
from flopwise.spec.model import ModelSpec
from flopwise.catalog.track_record import TrackRecord
from flopwise.catalog.track_record import for_generation as track_record_for

GRID_POINTS = 40  # concurrencies evaluated per layout (geometric from 1 to the KV-cache limit)
MAX_PIPELINE = 8  # pipeline stages the planner will consider (one node each)


class ServingTargets(BaseModel):
    ttft_p99_s: float | None = None
    tpot_s: float | None = None

    def describe(self) -> str:
        parts = []
        if self.ttft_p99_s is not None:
            parts.append(f"TTFT p99 <= {self.ttft_p99_s * 1e3:g} ms")
        if self.tpot_s is not None:
            parts.append(f"TPOT <= {self.tpot_s * 1e3:g} ms")
        return ", ".join(parts) or "none"


class ServingRequest(BaseModel):
    """What is to be served, on what, under which targets."""

    model_config = {"arbitrary_types_allowed": True}

    model: ModelSpec
    cluster: Cluster
    input_tokens: int
    output_tokens: int
    gpus: int | None = None  # total GPUs available (replicas × tp × pp); None = as many as needed
    rate_per_s: float | None = None  # average requests/s offered to the whole system
    concurrency: float | None = None  # requests in flight in the whole system
    targets: ServingTargets = ServingTargets()
    weights: str = "bf16"
    kv: str = "bf16"
    usd_per_gpu_hour: float | None = None
    spot_usd_per_gpu_hour: float | None = None


class LayoutPoint(BaseModel):
    """The best operating point of one layout under the targets (per replica)."""

    tp: int
    pp: int
    gpus_per_replica: int
    max_concurrency: int  # KV-cache limit (capped at MAX_BATCH_PER_REPLICA)
    concurrency: float  # largest meeting the targets
    ttft_s: float
    ttft_p99_s: float
    tpot_s: float
    e2e_s: float
    output_tokens_per_s: float  # per replica
    requests_per_s: float  # sustainable per replica
    prefill_share: float
    meets_targets: bool
    reason: str = ""


class CapacityWeek(BaseModel):
    week: int
    average_rate_per_s: float
    peak_rate_per_s: float
    replicas: int
    gpus: int
    usd_per_week: float | None


class CapacityPlan(BaseModel):
    """Replicas for an average and a peak request rate, and what provisioning for each costs."""

    average_rate_per_s: float
    peak_factor: float
    peak_rate_per_s: float
    rate_per_replica_max: float  # requests/s one replica sustains within the targets
    gpus_per_replica: int
    replicas_average: int
    replicas_peak: int
    gpus_average: int
    gpus_peak: int
    utilisation_peak_provisioned: float  # average load / capacity when provisioned for the peak
    usd_per_day_peak_provisioned: float | None
    usd_per_day_average_provisioned: float | None  # ideal autoscaling (spikes must be absorbed by scale-up)
    spot_usd_per_day_peak_provisioned: float | None
    usd_per_m_tokens_peak_provisioned: float | None
    usd_per_m_tokens_average_provisioned: float | None
    weekly_growth: float | None = None
    weeks: list[CapacityWeek] = []


class ServingPlan(BaseModel):
    request: dict
    estimate: ServingEstimate
    layouts: list[LayoutPoint]  # every layout considered, best first
    capacity: CapacityPlan | None = None
    targets: ServingTargets
    plan_s: float
    # how far flopwise's serving estimates landed from published runs on this hardware generation
    track_record: TrackRecord | None = None


class CompareRow(BaseModel):
    accelerator: str
    name: str
    tp: int
    pp: int
    gpus_per_replica: int
    replicas: int
    gpus: int
    concurrency_per_replica: float
    ttft_p99_s: float
    tpot_s: float
    e2e_s: float
    output_tokens_per_s_per_gpu: float
    total_tokens_per_s_per_gpu: float
    usd_per_gpu_hour: float | None
    price_source: str | None
    usd_per_m_input_tokens: float | None
    usd_per_m_output_tokens: float | None
    usd_per_m_tokens: float | None
    spot_usd_per_m_tokens: float | None
    usd_per_hour: float | None


class CompareResult(BaseModel):
    model: str
    input_tokens: int
    output_tokens: int
    weights: str
    kv: str
    targets: ServingTargets
    rate_per_s: float | None
    ranked: list[CompareRow]  # meets the targets, has a price: cheapest per million tokens first
    unpriced: list[CompareRow]  # meets the targets, no catalog price
    rejected: dict[str, str]  # accelerator -> why no layout works
    elapsed_s: float


# ---- checks -------------------------------------------------------------------------------------


def check_request(model: ModelSpec, input_tokens: int, output_tokens: int) -> None:
    if input_tokens < 1 or output_tokens < 1:
        raise FlopwiseError("--input and --output must be at least 1 token")
    total = input_tokens + output_tokens
    if total > model.max_seq_len:
        raise FlopwiseError(
            f"context {input_tokens} + {output_tokens} = {total} tokens exceeds {model.name}'s maximum of "
            f"{model.max_seq_len} tokens; shorten --input/--output")


def candidate_layouts(model: ModelSpec, cluster: Cluster, gpus: int | None) -> list[tuple[int, int]]:
    """(tp, pp): tp a power of two within a node dividing the heads; pp > 1 only across whole nodes."""
    gpn = cluster.gpus_per_node
    tps = [t for t in (1, 2, 4, 8, 16, 32, 64, 72) if t <= gpn and model.n_heads % t == 0]
    if not tps:
        tps = [1]
    out = [(t, 1) for t in tps]
    full = tps[-1]
    pp = 2
    while pp <= min(MAX_PIPELINE, model.n_layers):
        out.append((full, pp))
        pp *= 2
    if gpus is not None:
        out = [(t, p) for t, p in out if t * p <= gpus and gpus % (t * p) == 0]
    return out


def _physics(req: ServingRequest, tp: int, pp: int, weights: str | None = None) -> ReplicaPhysics:
    return ReplicaPhysics(req.model, req.cluster, tp, pp, weights or req.weights, req.kv)


def fit_error(model: ModelSpec, cluster: Cluster, gpus: int | None, input_tokens: int, output_tokens: int,
              weights: str, kv: str) -> FlopwiseError:
    """Why nothing fits, as one line: at the requested precision, and whether int4 would."""
    acc = cluster.accelerator
    layouts = candidate_layouts(model, cluster, gpus) or [(1, 1)]
    biggest = max(layouts, key=lambda l: l[0] * l[1])
    n = biggest[0] * biggest[1]
    phys = ReplicaPhysics(model, cluster, biggest[0], biggest[1], weights, kv)
    need = phys.weights_bytes / GIB
    have = acc.memory_bytes / GIB
    where = f"{n} x {acc.id}"
    if gpus is not None and n < gpus:
        where += f" (--gpus {gpus} splits only into groups of {n}: give a multiple of 2, 4 or 8)"
    elif gpus is None:
        where = f"up to {n} x {acc.id}"
    seq = input_tokens + output_tokens
    int4 = ReplicaPhysics(model, cluster, biggest[0], biggest[1], "int4", kv)
    if int4.max_concurrency(seq) < 1:
        return InfeasiblePlan(
            f"{model.name} cannot fit on {where} even with int4 weights: {int4.weights_bytes / GIB:,.1f} GiB of "
            f"weights per GPU plus KV for one {seq}-token sequence exceed {have:,.0f} GiB; "
            + ("use more GPUs (--gpus) or a larger accelerator" if gpus is not None else "use a larger accelerator"))
    for w in ("fp8", "int8", "int4"):
        if _BYTES_ORDER[w] < _BYTES_ORDER[normalise_precision(weights)]:
            if ReplicaPhysics(model, cluster, biggest[0], biggest[1], w, kv).max_concurrency(seq) >= 1:
                return InfeasiblePlan(
                    f"{model.name} does not fit on {where} with {weights} weights ({need:,.1f} GiB per GPU of "
                    f"{have:,.0f} GiB, plus KV); it fits with --weights {w}, or with more GPUs")
    return InfeasiblePlan(f"{model.name} does not fit on {where} with {weights} weights ({need:,.1f} GiB per GPU "
                          f"of {have:,.0f} GiB, plus KV for one {seq}-token sequence)")


_BYTES_ORDER = {"fp32": 4, "bf16": 2, "fp16": 2, "fp8": 1, "int8": 1, "int4": 0.5, "fp4": 0.5}


# ---- one layout ----------------------------------------------------------------------------------


def best_points(physics: list[ReplicaPhysics], input_tokens: int, output_tokens: int,
                targets: ServingTargets) -> list[LayoutPoint]:
    """For each replica (one NumPy evaluation for all of them, over a geometric grid of concurrencies
    from 1 to its KV-cache limit): the largest concurrency that meets the targets."""
    caps = np.array([min(p.max_concurrency(input_tokens + output_tokens), se.MAX_BATCH_PER_REPLICA)
                     for p in physics], dtype=float)
    live = [i for i, c in enumerate(caps) if c >= 1]
    out: list[LayoutPoint | None] = [None] * len(physics)
    for i, p in enumerate(physics):
        if caps[i] < 1:
            out[i] = LayoutPoint(tp=p.tp, pp=p.pp, gpus_per_replica=p.n_gpus, max_concurrency=0, concurrency=0,
                                 ttft_s=math.inf, ttft_p99_s=math.inf, tpot_s=math.inf, e2e_s=math.inf,
                                 output_tokens_per_s=0, requests_per_s=0, prefill_share=0, meets_targets=False,
                                 reason="does not fit in memory")
    if live:
        stack = PhysicsStack([physics[i] for i in live])
        cap = caps[live][:, None]
        u = np.linspace(0.0, 1.0, GRID_POINTS)[None, :]
        grid = np.maximum(1.0, np.floor(cap ** u))  # 1 … cap, geometric
        lat = latencies(stack, grid, input_tokens, output_tokens, parts=False)
        ok = np.ones(grid.shape, dtype=bool)
        if targets.tpot_s is not None:
            ok &= lat["tpot_s"] <= targets.tpot_s
        if targets.ttft_p99_s is not None:
            ok &= lat["ttft_p99_s"] <= targets.ttft_p99_s
        meets = ok.any(axis=1)
        last = np.where(meets, grid.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1), 0)
        for row, i in enumerate(live):
            j = int(last[row])
            p = physics[i]

            def at(key, r=row, jj=j):
                return float(np.broadcast_to(lat[key], grid.shape)[r, jj])

            reason = "" if meets[row] else (
                f"at batch 1: TTFT p99 {at('ttft_p99_s', row, 0) * 1e3:.0f} ms, TPOT {at('tpot_s', row, 0) * 1e3:.1f} ms")
            out[i] = LayoutPoint(
                tp=p.tp, pp=p.pp, gpus_per_replica=p.n_gpus, max_concurrency=int(caps[i]), concurrency=float(grid[row, j]),
                ttft_s=at("ttft_s"), ttft_p99_s=at("ttft_p99_s"), tpot_s=at("tpot_s"), e2e_s=at("e2e_s"),
                output_tokens_per_s=at("output_tokens_per_s"), requests_per_s=at("requests_per_s"),
                prefill_share=at("prefill_share"), meets_targets=bool(meets[row]), reason=reason,
            )
    return out  # type: ignore[return-value]


def best_point(phys: ReplicaPhysics, input_tokens: int, output_tokens: int, targets: ServingTargets) -> LayoutPoint:
    """The largest concurrency of one replica that fits and meets the targets."""
    return best_points([phys], input_tokens, output_tokens, targets)[0]


# ---- the planner ---------------------------------------------------------------------------------


def plan_serving(req: ServingRequest, peak_factor: float | None = None, weekly_growth: float | None = None,
                 weeks: int = 8) -> ServingPlan:
    """Pick the layout and operating point; size replicas for the rate; plan capacity for peaks/growth."""
    t0 = time.perf_counter()
    check_request(req.model, req.input_tokens, req.output_tokens)
    lin, lout = req.input_tokens, req.output_tokens
    layouts = candidate_layouts(req.model, req.cluster, req.gpus)
    if not layouts:
        raise InfeasiblePlan(f"--gpus {req.gpus} cannot be split into tensor-parallel groups of {req.model.name} "
                             f"(heads {req.model.n_heads}, {req.cluster.gpus_per_node} GPUs per node)")
    physics = [_physics(req, tp, pp) for tp, pp in layouts]
    points = list(zip(best_points(physics, lin, lout, req.targets), physics))
    fitting = [(p, ph) for p, ph in points if p.max_concurrency >= 1]
    if not fitting:
        raise fit_error(req.model, req.cluster, req.gpus, lin, lout, req.weights, req.kv)
    meeting = [(p, ph) for p, ph in fitting if p.meets_targets]
    if not meeting:
        best = min(fitting, key=lambda x: (x[0].tpot_s, x[0].ttft_p99_s))[0]
        raise InfeasiblePlan(
            f"no layout of {req.model.name} on {req.cluster.accelerator.id} meets {req.targets.describe()}; "
            f"closest is tp={best.tp} pp={best.pp} {best.reason}")

    def replicas_for(p: LayoutPoint) -> int | None:
        """Replicas this layout needs (None: cannot serve the request within the GPUs given)."""
        fixed = req.gpus // p.gpus_per_replica if req.gpus else None
        if req.rate_per_s is not None:
            need = max(1, math.ceil(req.rate_per_s / p.requests_per_s * (1 + 1e-9)))
        elif req.concurrency is not None:
            need = max(1, math.ceil(req.concurrency / p.concurrency))
        else:
            return fixed or 1
        if fixed is not None:
            return fixed if need <= fixed else None
        return need

    scored = []
    for p, ph in meeting:
        r = replicas_for(p)
        if r is None:
            continue
        gpus = r * p.gpus_per_replica
        if req.rate_per_s is None and req.concurrency is None:
            key = (-p.output_tokens_per_s / p.gpus_per_replica, p.gpus_per_replica)
        else:
            key = (gpus, -p.output_tokens_per_s / p.gpus_per_replica)
        scored.append((key, p, ph, r))
    if not scored:
        best = max(meeting, key=lambda x: x[0].requests_per_s / x[0].gpus_per_replica)[0]
        need = _gpus_needed(best, req)
        what = f"{req.rate_per_s:g} requests/s" if req.rate_per_s is not None else f"{req.concurrency:g} concurrent requests"
        layout = f"tp={best.tp}" + (f" pp={best.pp}" if best.pp > 1 else "")
        raise InfeasiblePlan(f"{req.gpus} x {req.cluster.accelerator.id} cannot serve {what} within targets "
                             f"({req.targets.describe()}); it needs about {need} GPUs "
                             f"({need // best.gpus_per_replica} replicas of {layout}) — raise --gpus or drop --gpus")
    scored.sort(key=lambda x: x[0])
    _, p, phys, replicas = scored[0]
    est = _estimate_at(req, p, phys, replicas)
    # a replica short of the target at the exact operating point (grid/queueing rounding): add one
    if req.rate_per_s is not None and req.gpus is None and not est.meets_targets:
        est = _estimate_at(req, p, phys, replicas + 1)
    capacity = None
    if req.rate_per_s is not None and (peak_factor is not None or weekly_growth is not None):
        capacity = capacity_plan(req, p, peak_factor or 1.0, weekly_growth, weeks)
    order = [x[1] for x in scored] + [pt for pt, _ in points if all(pt is not s[1] for s in scored)]
    return ServingPlan(
        request=_request_summary(req), estimate=est, layouts=order, capacity=capacity, targets=req.targets,
        plan_s=time.perf_counter() - t0,
        track_record=track_record_for(req.cluster.accelerator.generation, req.model.is_moe, "inference"),
    )


def _gpus_needed(p: LayoutPoint, req: ServingRequest) -> int:
    if req.rate_per_s is not None:
        return math.ceil(req.rate_per_s / p.requests_per_s) * p.gpus_per_replica
    return math.ceil((req.concurrency or 1) / max(p.concurrency, 1e-9)) * p.gpus_per_replica


def _request_summary(req: ServingRequest) -> dict:
    return {
        "model": req.model.name, "accelerator": req.cluster.accelerator.id, "gpus": req.gpus,
        "input_tokens": req.input_tokens, "output_tokens": req.output_tokens, "rate_per_s": req.rate_per_s,
        "concurrency": req.concurrency, "weights": req.weights, "kv": req.kv,
        "usd_per_gpu_hour": req.usd_per_gpu_hour, "spot_usd_per_gpu_hour": req.spot_usd_per_gpu_hour,
    }


def _check(est: ServingEstimate, targets: ServingTargets) -> bool:
    ok = True
    if targets.tpot_s is not None:
        ok &= est.tpot_s <= targets.tpot_s * (1 + 1e-6)
    if targets.ttft_p99_s is not None:
        ok &= est.ttft_p99_s <= targets.ttft_p99_s * (1 + 1e-6)
    return bool(ok)


def _estimate_at(req: ServingRequest, p: LayoutPoint, phys: ReplicaPhysics, replicas: int) -> ServingEstimate:
    lin, lout = req.input_tokens, req.output_tokens
    price, spot = req.usd_per_gpu_hour, req.spot_usd_per_gpu_hour
    if req.rate_per_s is not None:
        per = req.rate_per_s / replicas
        conc = solve_concurrency(phys, per, lin, lout, p.max_concurrency)
        if conc is None:
            conc = p.concurrency
            est = estimate_continuous(phys, conc, lin, lout, replicas, None, price, spot)
            est.notes.append("offered rate exceeds what the replicas sustain: shown at saturation")
            est.meets_targets = False
            return est
        est = estimate_continuous(phys, conc, lin, lout, replicas, per, price, spot)
    elif req.concurrency is not None:
        conc = min(req.concurrency / replicas, p.max_concurrency)
        est = estimate_continuous(phys, conc, lin, lout, replicas, None, price, spot)
    else:
        est = estimate_continuous(phys, p.concurrency, lin, lout, replicas, None, price, spot)
    est.meets_targets = _check(est, req.targets)
    return est


# Beyond this many replicas a capacity table describes no fleet that exists.
MAX_REPLICAS = 1e9


def capacity_plan(req: ServingRequest, p: LayoutPoint, peak_factor: float, weekly_growth: float | None,
                  weeks: int) -> CapacityPlan:
    """Replicas for the average and the peak rate (and week by week under growth), with their cost."""
    avg = req.rate_per_s or 0.0
    r_max = p.requests_per_s
    g = p.gpus_per_replica
    price, spot = req.usd_per_gpu_hour, req.spot_usd_per_gpu_hour

    def reps(rate: float) -> int:
        return max(1, math.ceil(rate / r_max * (1 - 1e-9)))

    ra, rp = reps(avg), reps(avg * peak_factor)
    tokens_per_day = avg * (req.input_tokens + req.output_tokens) * 86400

    def per_day(n_rep: int, usd: float | None) -> float | None:
        return None if usd is None else n_rep * g * usd * 24

    def per_m(cost: float | None) -> float | None:
        return None if cost is None or tokens_per_day <= 0 else cost / tokens_per_day * 1e6

    week_rows = []
    if weekly_growth is not None:
        for w in range(weeks + 1):
            a = avg * math.exp(w * math.log1p(weekly_growth))
            if not a * peak_factor / r_max < MAX_REPLICAS:
                raise FlopwiseError(f"at {weekly_growth:+.0%} a week the rate reaches {a:.3g} requests/s by week {w}, "
                                    f"more than {MAX_REPLICAS:.0e} replicas; shorten --weeks or lower --weekly-growth")
            n = reps(a * peak_factor)
            week_rows.append(CapacityWeek(week=w, average_rate_per_s=a, peak_rate_per_s=a * peak_factor, replicas=n,
                                          gpus=n * g, usd_per_week=None if price is None else n * g * price * 168))
    peak_cost = per_day(rp, price)
    avg_cost = per_day(ra, price)
    return CapacityPlan(
        average_rate_per_s=avg, peak_factor=peak_factor, peak_rate_per_s=avg * peak_factor, rate_per_replica_max=r_max,
        gpus_per_replica=g, replicas_average=ra, replicas_peak=rp, gpus_average=ra * g, gpus_peak=rp * g,
        utilisation_peak_provisioned=avg / (rp * r_max), usd_per_day_peak_provisioned=peak_cost,
        usd_per_day_average_provisioned=avg_cost, spot_usd_per_day_peak_provisioned=per_day(rp, spot),
        usd_per_m_tokens_peak_provisioned=per_m(peak_cost), usd_per_m_tokens_average_provisioned=per_m(avg_cost),
        weekly_growth=weekly_growth, weeks=week_rows,
    )


# ---- which accelerator ---------------------------------------------------------------------------


def compare_accelerators(model: ModelSpec, input_tokens: int, output_tokens: int, targets: ServingTargets,
                         weights: str = "bf16", kv: str = "bf16", rate_per_s: float | None = None,
                         max_gpus: int | None = None, accelerators=None, prices=None) -> CompareResult:
    """Every usable catalog accelerator × GPU count that fits and meets the targets, ranked by on-demand
    $ per million tokens (input + output) at its best operating point.

    `prices`: accelerator id -> (usd_per_gpu_hour, spot_usd_per_gpu_hour | None, source) (default: catalog).
    """
    from flopwise.catalog.accelerators import all_accelerators
    from flopwise.catalog.prices import cheapest_price, cheapest_spot_price
    from flopwise.catalog.systems import default_cluster

    t0 = time.perf_counter()
    check_request(model, input_tokens, output_tokens)
    weights, kv = normalise_precision(weights), normalise_precision(kv)
    accs = [a for a in (accelerators or all_accelerators()) if a.usable]
    ranked: list[CompareRow] = []
    unpriced: list[CompareRow] = []
    rejected: dict[str, str] = {}
    options: list[tuple] = []  # (accelerator, ReplicaPhysics)
    for acc in accs:
        cluster = default_cluster(acc)
        for tp, pp in candidate_layouts(model, cluster, None):
            if max_gpus is not None and tp * pp > max_gpus:
                continue
            options.append((acc, ReplicaPhysics(model, cluster, tp, pp, weights, kv)))
    points = best_points([ph for _, ph in options], input_tokens, output_tokens, targets) if options else []
    by_acc: dict[str, list[tuple[LayoutPoint, ReplicaPhysics]]] = {}
    for (acc, ph), p in zip(options, points):
        by_acc.setdefault(acc.id, []).append((p, ph))
    for acc in accs:
        if prices is not None and acc.id in prices:
            price, spot, src = prices[acc.id]
        else:
            found = cheapest_price(acc.id)
            sp = cheapest_spot_price(acc.id)
            price = found.usd_per_gpu_hour if found else None
            src = found.describe() if found else None
            spot = sp.spot_usd_per_gpu_hour if sp else None
        cands = by_acc.get(acc.id, [])
        fits = [(p, ph) for p, ph in cands if p.max_concurrency >= 1]
        good = [(p, ph) for p, ph in fits if p.meets_targets]
        if any(ph.pp == 1 for _, ph in good):
            good = [(p, ph) for p, ph in good if ph.pp == 1]  # cross nodes only when one node cannot do it
        elif good:
            least = min(ph.pp for _, ph in good)
            good = [(p, ph) for p, ph in good if ph.pp == least]
        if not good:
            rejected[acc.id] = (f"misses {targets.describe()} ({min(fits, key=lambda x: x[0].tpot_s)[0].reason})"
                                if fits else "does not fit in memory")
            continue
        rows = []
        for p, ph in good:
            n = ph.n_gpus
            replicas = max(1, math.ceil(rate_per_s / p.requests_per_s)) if rate_per_s else 1
            out_s, in_s = p.output_tokens_per_s, p.output_tokens_per_s * input_tokens / output_tokens
            cost = cost_fields(price, spot, n, in_s, out_s, p.prefill_share)
            rows.append(CompareRow(
                accelerator=acc.id, name=acc.name, tp=ph.tp, pp=ph.pp, gpus_per_replica=n, replicas=replicas,
                gpus=replicas * n, concurrency_per_replica=p.concurrency, ttft_p99_s=p.ttft_p99_s, tpot_s=p.tpot_s,
                e2e_s=p.e2e_s, output_tokens_per_s_per_gpu=out_s / n, total_tokens_per_s_per_gpu=(out_s + in_s) / n,
                usd_per_gpu_hour=price, price_source=src, usd_per_m_input_tokens=cost["usd_per_m_input_tokens"],
                usd_per_m_output_tokens=cost["usd_per_m_output_tokens"], usd_per_m_tokens=cost["usd_per_m_tokens"],
                spot_usd_per_m_tokens=cost["spot_usd_per_m_tokens"],
                usd_per_hour=None if price is None else price * n * replicas,
            ))
        (unpriced if price is None else ranked).extend(rows)
    ranked.sort(key=lambda r: (r.usd_per_m_tokens, r.gpus))
    unpriced.sort(key=lambda r: -r.output_tokens_per_s_per_gpu)
    return CompareResult(
        model=model.name, input_tokens=input_tokens, output_tokens=output_tokens, weights=weights, kv=kv,
        targets=targets, rate_per_s=rate_per_s, ranked=ranked, unpriced=unpriced, rejected=rejected,
        elapsed_s=time.perf_counter() - t0,
    )
