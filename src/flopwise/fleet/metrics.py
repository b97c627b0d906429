"""What a simulation measured, as typed results (seconds and GPU-hours; humans get hours in report).

Definitions
- JCT (job completion time): end - submit, over jobs that ended (completed or killed at a limit).
- queueing delay: first start - submit, over jobs that started.
- bounded slowdown: max(1, JCT / max(ideal run time, 10 s)); ideal = duration on the job's fastest pool.
- utilization: GPU-seconds held by jobs / (cluster GPUs x (last end - first submit)).
- fragmented GPUs: after each pass, if the best waiting job (in the policy's order, within its
  group's quota) has at least as many free GPUs in its pools as it needs but fits on none of them
  (node or block shape), those free GPUs are idle but unusable; integrated over time.
- lost GPU-hours: restore time after preemptions, requeues and failures, plus work since the last
  checkpoint lost to failures.
- finish-time fairness (Themis, Mahajan et al. NSDI 2020): per group, rho = average JCT in the
  shared cluster / average JCT if the group ran alone on its share of the cluster's capacity
  (share / sum of shares x the cluster's GPUs in first-pool equivalents, at least its largest job;
  GPUs counted, durations as on the first pool, FIFO with EASY backfilling on true durations: a
  well-run private slice). rho <= 1: the group did
  no worse than with a private slice. Reported per group, the worst rho, and Jain's index over the
  groups' rho (1: all groups gained or lost alike).
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel

from flopwise.fleet.simulator import DONE, TIMEOUT, UNFINISHED, UNSCHEDULABLE, Simulation
from flopwise.fleet.speedups import effective_gpus

SLOWDOWN_BOUND_S = 10.0


class GroupMetrics(BaseModel):
    group: str
    jobs: int
    share: float
    gpu_hours: float
    avg_jct_s: float
    avg_queue_delay_s: float
    isolated_avg_jct_s: float
    finish_time_fairness: float


class Timeline(BaseModel):
    """Time-weighted averages over equal bins."""

    t_s: list[float]
    gpus_busy: list[float]
    queue_length: list[float]
    gpus_fragmented: list[float]


class FleetResult(BaseModel):
    policy: str
    cluster: str
    total_gpus: int
    jobs: int
    jobs_completed: int
    jobs_timeout: int
    jobs_unschedulable: int
    jobs_unfinished: int
    avg_jct_s: float
    p50_jct_s: float
    p99_jct_s: float
    avg_queue_delay_s: float
    p99_queue_delay_s: float
    avg_bounded_slowdown: float
    utilization: float
    fragmented_gpu_fraction: float
    fragmented_gpu_hours: float
    busy_gpu_hours: float
    lost_gpu_hours: float
    makespan_s: float
    failures: int
    preemptions: int
    requeues: int
    groups: list[GroupMetrics]
    fairness_worst_rho: float
    fairness_jain: float
    events: int
    passes: int
    sim_wall_s: float
    timeline: Timeline | None = None


@dataclass
class FleetRun:
    """A result plus the simulation it came from (per-job records, full time series)."""

    result: FleetResult
    sim: Simulation


def isolated_jct(submit: np.ndarray, gpus: np.ndarray, run_s: np.ndarray, capacity: int, depth: int = 100) -> np.ndarray:
    """JCTs of jobs run alone on `capacity` GPUs (counted, no shapes): FIFO with EASY backfilling on
    true durations, i.e. a well-run private slice. Inputs in submit order."""
    n = len(submit)
    out = np.empty(n)
    sub, g_, rs = submit.tolist(), gpus.tolist(), run_s.tolist()
    ends: list[tuple[float, int]] = []  # sorted (end time, GPUs)
    waiting: list[int] = []
    free, i = capacity, 0

    def start(k: int, t: float) -> None:
        nonlocal free
        free -= g_[k]
        insort(ends, (t + rs[k], g_[k]))
        out[k] = t + rs[k] - sub[k]

    while i < n or waiting:
        t = min(sub[i] if i < n else math.inf, ends[0][0] if ends else math.inf)
        k = 0
        while k < len(ends) and ends[k][0] <= t:
            free += ends[k][1]
            k += 1
        if k:
            del ends[:k]
        while i < n and sub[i] <= t:
            waiting.append(i)
            i += 1
        while waiting and g_[waiting[0]] <= free:
            start(waiting.pop(0), t)
        if not waiting or free <= 0:
            continue
        need, acc, shadow = g_[waiting[0]], free, math.inf
        for te, g in ends:
            acc += g
            if acc >= need:
                shadow = te
                break
        extra = acc - need
        j, scanned = 1, 0
        while j < len(waiting) and scanned < depth and free > 0:
            k = waiting[j]
            g = g_[k]
            if g <= free and (t + rs[k] <= shadow or g <= extra):
                if t + rs[k] > shadow:
                    extra -= g
                start(k, t)
                del waiting[j]
                continue
            j += 1
            scanned += 1
    return out


def _pct(x: np.ndarray, q: float) -> float:
    return float(np.percentile(x, q)) if len(x) else 0.0


def _mean(x: np.ndarray) -> float:
    return float(x.mean()) if len(x) else 0.0


def downsample(sim: Simulation, bins: int = 200) -> Timeline | None:
    if len(sim.ts) < 2:
        return None
    t = np.asarray(sim.ts)
    t0, t1 = t[0], t[-1]
    if t1 <= t0:
        return None
    edges = np.linspace(t0, t1, bins + 1)
    width = edges[1] - edges[0]
    out = {}
    for name, vals in (("gpus_busy", sim.ts_busy), ("queue_length", sim.ts_queue), ("gpus_fragmented", sim.ts_frag)):
        v = np.asarray(vals, dtype=float)
        cum = np.concatenate([[0.0], np.cumsum(v[:-1] * np.diff(t))])
        at = np.interp(edges, t, cum)
        out[name] = (np.diff(at) / width).round(3).tolist()
    return Timeline(t_s=((edges[:-1] + edges[1:]) / 2 - t0).round(1).tolist(), **out)


def summarize(sim: Simulation, wall_s: float, timeline_bins: int = 200) -> FleetRun:
    runs = sim.runs
    n = len(runs)

    def col(f, dtype=float):
        return np.fromiter((f(r) for r in runs), dtype, n)

    submit, end, first = col(lambda r: r.submit), col(lambda r: r.end), col(lambda r: r.first_start)
    state, gpus = col(lambda r: r.state, np.int8), col(lambda r: r.gpus, np.int64)
    dur, run_wall = col(lambda r: r.job.duration_s), col(lambda r: r.run_wall)
    best_speed = col(lambda r: max((r.speeds[p] for p in r.eligible), default=1.0))
    group_names = sorted({r.group for r in runs})
    code = {g: k for k, g in enumerate(group_names)}
    gidx = col(lambda r: code[r.group], np.int64)
    ended = (state == DONE) | (state == TIMEOUT)
    started = np.isfinite(first)
    jct = (end - submit)[ended]
    qd = (first - submit)[started]
    slow = np.maximum(1.0, jct / np.maximum(dur[ended] / best_speed[ended], SLOWDOWN_BOUND_S))
    first_submit = float(submit[0]) if n else 0.0
    last_end = float(end[ended].max()) if ended.any() else sim.now
    span = max(last_end - first_submit, 1e-9)
    # finish-time fairness per group
    gm = sim.cluster.group_map()
    shares = {g: (gm[g].share if g in gm else 1.0) for g in group_names}
    total_share = sum(shares.values())
    capacity = effective_gpus(sim.cluster)
    gres = []
    for g in group_names:
        mine = (gidx == code[g]) & (state != UNSCHEDULABLE)
        done = mine & ended
        if not done.any():
            continue
        cap = max(round(shares[g] / total_share * capacity), int(gpus[mine].max()))
        iso = isolated_jct(submit[mine], gpus[mine], dur[mine], cap)
        iso_avg = _mean(iso[ended[mine]])
        g_jct = _mean((end - submit)[done])
        gres.append(GroupMetrics(
            group=g, jobs=int(mine.sum()), share=shares[g], gpu_hours=float((run_wall * gpus)[mine].sum()) / 3600,
            avg_jct_s=g_jct, avg_queue_delay_s=_mean((first - submit)[mine & started]), isolated_avg_jct_s=iso_avg,
            finish_time_fairness=g_jct / iso_avg if iso_avg > 0 else 1.0))
    rhos = np.array([x.finish_time_fairness for x in gres])
    jain = float(rhos.sum() ** 2 / (len(rhos) * (rhos ** 2).sum())) if len(rhos) else 1.0
    result = FleetResult(
        policy=sim.policy.name, cluster=sim.cluster.name, total_gpus=sim.total_gpus, jobs=n,
        jobs_completed=int((state == DONE).sum()), jobs_timeout=int((state == TIMEOUT).sum()),
        jobs_unschedulable=int((state == UNSCHEDULABLE).sum()), jobs_unfinished=int((state == UNFINISHED).sum()),
        avg_jct_s=_mean(jct), p50_jct_s=_pct(jct, 50), p99_jct_s=_pct(jct, 99),
        avg_queue_delay_s=_mean(qd), p99_queue_delay_s=_pct(qd, 99), avg_bounded_slowdown=_mean(slow),
        utilization=sim.busy_gpu_s / (sim.total_gpus * span),
        fragmented_gpu_fraction=sim.frag_gpu_s / (sim.total_gpus * span),
        fragmented_gpu_hours=sim.frag_gpu_s / 3600, busy_gpu_hours=sim.busy_gpu_s / 3600,
        lost_gpu_hours=sum(r.lost_gpu_s for r in runs) / 3600, makespan_s=span,
        failures=sum(r.failures for r in runs), preemptions=sum(r.preemptions for r in runs),
        requeues=sum(r.requeues for r in runs), groups=gres,
        fairness_worst_rho=float(rhos.max()) if len(rhos) else 1.0, fairness_jain=jain,
        events=sim.events, passes=sim.passes, sim_wall_s=wall_s,
        timeline=downsample(sim, timeline_bins) if sim.record_timeline else None,
    )
    return FleetRun(result=result, sim=sim)
