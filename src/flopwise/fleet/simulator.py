"""The event loop: a heap of timed events (attempt ends, time limits, failures, policy timers) merged
with the submit-ordered job list; after all events of one instant, the policy makes one pass.

What a policy may ask of the simulation (see policies/base.py):
  sim.now, sim.free_total, sim.pools, sim.depth, sim.running
  sim.try_start(run, order=None) -> bool    start now on the first pool (in `order`) where it fits
  sim.quota_ok(run) -> bool                 the run's group would stay within its quota
  sim.preempt(run)                          stop a running job (it checkpoints and goes back to the queue)
  sim.add_timer(t, run)                     call policy.on_timer(run, t) at t while the attempt lasts
  sim.ends[p]                               (expected end, idx, held) of running jobs on pool p, sorted
  sim.attained_gpu_s(run)                   GPU-seconds of service so far, including the running attempt
"""

from __future__ import annotations

import math
import random
import time
from bisect import bisect_left, insort
from heapq import heappop, heappush

from flopwise.errors import FlopwiseError
from flopwise.fleet.cluster import ClusterSpec
from flopwise.fleet.jobs import Job
from flopwise.fleet.placement import PoolState
from flopwise.fleet.speedups import SpeedTable

INF = math.inf
END, LIMIT, FAIL, TIMER = 0, 1, 2, 3
MAX_ATTEMPTS = 1e4  # expected restarts of one job before it keeps any work: more is refused (_check_progress)
# run states
PENDING, WAITING, RUNNING, DONE, TIMEOUT, UNSCHEDULABLE, UNFINISHED = range(7)
STATE_NAMES = ("pending", "waiting", "running", "completed", "timeout", "unschedulable", "unfinished")


class Run:
    """A job's state during one simulation."""

    __slots__ = ("idx", "job", "gpus", "group", "submit", "speeds", "eligible", "remaining", "estimate",
                 "limit", "state", "first_start", "end", "token", "pool", "placement", "held", "seg_start",
                 "seg_overhead", "seg_speed", "expected_end", "pending_overhead", "attained", "run_wall",
                 "preemptions", "failures", "requeues", "lost_gpu_s", "segments", "level", "why", "est_pool",
                 "est_wall_s", "tag")

    def __init__(self, idx: int, job: Job):
        self.idx = idx
        self.job = job
        self.gpus = job.gpus
        self.group = job.group
        self.submit = job.submit_s
        self.remaining = job.duration_s
        self.state = PENDING
        self.first_start = INF
        self.end = INF
        self.token = 0
        self.pool = -1
        self.placement = ()
        self.held = 0
        self.seg_start = 0.0
        self.seg_overhead = 0.0
        self.seg_speed = 1.0
        self.expected_end = INF
        self.pending_overhead = 0.0
        self.attained = 0.0
        self.run_wall = 0.0
        self.preemptions = 0
        self.failures = 0
        self.requeues = 0
        self.lost_gpu_s = 0.0
        self.segments: list[tuple[float, float, int, int]] = []
        self.level = 0
        self.why = ""
        self.est_pool = -1  # a policy's cache of est_wall(run, est_pool)
        self.est_wall_s = 0.0
        self.tag = None  # free for a policy's own use

    def __repr__(self) -> str:
        return f"Run({self.job.id}, gpus={self.gpus}, state={STATE_NAMES[self.state]})"


class Simulation:
    def __init__(self, cluster: ClusterSpec, jobs: list[Job], policy, *, progress: bool = False,
                 record_timeline: bool = True):
        self.cluster = cluster
        lv = cluster.levers
        self.levers = lv
        self.policy = policy
        self.pools = [PoolState(p) for p in cluster.pools]
        self.total_gpus = cluster.total_gpus
        self.free_total = self.total_gpus
        self.depth = lv.queue_depth
        self.rng = random.Random(lv.seed)
        self.fail_rate_per_gpu_s = lv.failure_rate_per_gpu_hour / 3600.0
        self.ckpt_s = lv.checkpoint_interval_s
        self.cost_s = lv.preemption_cost_s
        self.requeue_on_limit = lv.on_time_limit == "requeue"
        self.progress = progress
        self.record_timeline = record_timeline
        self.now = 0.0
        self.heap: list = []
        self._seq = 0
        self.running: dict[int, Run] = {}
        self.ends: list[list[tuple[float, int, int]]] = [[] for _ in self.pools]
        # per pool, the smallest GPU count that failed to fit during the current pass (see try_start)
        self.fail_floor: list[float] = [INF] * len(self.pools)
        self.busy = 0
        groups = {j.group for j in jobs}
        self.group_alloc: dict[str, int] = {g: 0 for g in groups}
        gm = cluster.group_map()
        self.quota: dict[str, int] = {g: gm[g].quota_gpus for g in groups if g in gm and gm[g].quota_gpus}
        self.events = 0
        self.passes = 0
        # the runs, in submit order
        order = sorted(range(len(jobs)), key=lambda i: jobs[i].submit_s)
        self.runs = [Run(k, jobs[i]) for k, i in enumerate(order)]
        self._prepare()
        # time series (piecewise constant from each t to the next)
        self.ts: list[float] = []
        self.ts_busy: list[int] = []
        self.ts_queue: list[int] = []
        self.ts_frag: list[int] = []
        self.busy_gpu_s = 0.0
        self.frag_gpu_s = 0.0
        self._last_t = None
        self._last_busy = 0
        self._last_frag = 0
        self.finished = 0

    # ---- setup ------------------------------------------------------------------------------------
    def _prepare(self) -> None:
        lv = self.levers
        table = SpeedTable(self.cluster)
        max_limit = lv.max_time_limit_s or INF
        caps = [p.capacity for p in self.pools]
        elig_cache: dict[tuple, tuple[int, ...]] = {}
        for r in self.runs:
            j = r.job
            if j.gpus <= 0 or not (j.duration_s >= 0) or not math.isfinite(j.submit_s):
                raise FlopwiseError(f"job {j.id}: needs gpus > 0, a duration >= 0 and a finite submit time")
            r.speeds = table.speeds(j)
            key = (r.speeds, j.gpus, j.require_type)
            el = elig_cache.get(key)
            if el is None:
                req = None
                if j.require_type:
                    req = self.cluster.pool_index(j.require_type)
                    if req is None:
                        raise FlopwiseError(f"job {j.id}: require_type '{j.require_type}' matches no pool; "
                                            f"pools: {', '.join(p.name for p in self.cluster.pools)}")
                el = tuple(p for p in range(len(self.pools))
                           if r.speeds[p] > 0 and caps[p] >= self.pools[p].held_for(j.gpus)
                           and (req is None or self.cluster.pools[p].accelerator == self.cluster.pools[req].accelerator))
                elig_cache[key] = el
            r.eligible = el
            limit = j.time_limit_s if j.time_limit_s else (lv.default_time_limit_s or INF)
            r.limit = min(limit, max_limit)
            r.estimate = min(j.time_limit_s or lv.default_time_limit_s or j.duration_s, max_limit)
            if el:
                self._check_progress(r)
            q = self.quota.get(j.group)
            if not el:
                r.state, r.why = UNSCHEDULABLE, "no pool can run it"
            elif q is not None and j.gpus > q:
                r.state, r.why = UNSCHEDULABLE, f"needs more GPUs than group quota {q}"

    def _check_progress(self, r: Run) -> None:
        """Refuse a job that failures would restart forever: it keeps its work only at a checkpoint, a
        time limit or its end, and must run that long without a failure; with failures every 1/λ
        seconds that takes about exp(λ·span) attempts. Beyond MAX_ATTEMPTS the simulation would not end."""
        lam = self.fail_rate_per_gpu_s * r.job.gpus
        if lam <= 0:
            return
        fastest = max(r.speeds[p] for p in r.eligible)
        span = min(self.ckpt_s or INF, r.limit, r.job.duration_s / fastest)
        if r.limit > self.cost_s:  # a restart restores first (see _start)
            span += self.cost_s
        x = lam * span
        if x > math.log(MAX_ATTEMPTS):
            rate_h = self.levers.failure_rate_per_gpu_hour
            raise FlopwiseError(
                f"job {r.job.id}: on {r.job.gpus} GPUs at {rate_h:g} failures per GPU-hour it fails every "
                f"{1 / lam / 60:,.3g} min on average but must run {span / 60:,.3g} min without one to keep any work "
                f"(checkpoint interval, time limit or whole run, plus the restore), about 10^{x / math.log(10):.0f} "
                f"restarts (at most {MAX_ATTEMPTS:,.0f} accepted): lower failure_rate_per_gpu_hour or checkpoint_interval")

    # ---- what policies call -----------------------------------------------------------------------
    def quota_ok(self, run: Run) -> bool:
        q = self.quota.get(run.group)
        return q is None or self.group_alloc[run.group] + run.gpus <= q

    def try_start(self, run: Run, order=None) -> bool:
        g = run.gpus
        if g > self.free_total:
            return False
        q = self.quota.get(run.group)
        if q is not None and self.group_alloc[run.group] + g > q:
            return False
        pools, floor = self.pools, self.fail_floor
        for p in (run.eligible if order is None else order):
            if g >= floor[p]:
                continue
            pool = pools[p]
            if pool.free_total >= g:
                pl = pool.alloc(g)
                if pl is not None:
                    self._start(run, p, pl)
                    return True
            floor[p] = g  # within a pass, free GPUs only shrink: no larger job fits this pool either
        return False

    def may_fit(self, run: Run) -> bool:
        """Cheap pre-check: could the run fit on one of its pools, as far as this pass has seen?"""
        g, floor, pools = run.gpus, self.fail_floor, self.pools
        for p in run.eligible:
            if g < floor[p] and pools[p].free_total >= g:
                return True
        return False

    def fits_now(self, run: Run, p: int) -> bool:
        return self.pools[p].can_fit(run.gpus)

    def est_wall(self, run: Run, p: int) -> float:
        """Expected wall time of the next attempt on pool p, from the job's estimate (time limit)."""
        done = run.job.duration_s - run.remaining
        need = run.pending_overhead + max(run.estimate - done, 0.0) / run.speeds[p]
        return min(need, run.limit)

    def attained_gpu_s(self, run: Run) -> float:
        if run.state == RUNNING:
            return run.attained + (self.now - run.seg_start) * run.gpus
        return run.attained

    def add_timer(self, t: float, run: Run) -> None:
        self._seq += 1
        heappush(self.heap, (t, self._seq, TIMER, run.idx, run.token))

    def preempt(self, run: Run) -> None:
        """Stop a running job gracefully: it checkpoints and goes back to the queue."""
        elapsed = self.now - run.seg_start
        useful = elapsed - run.seg_overhead
        if useful > 0:
            run.remaining = max(run.remaining - useful * run.seg_speed, 0.0)
        run.preemptions += 1
        self._stop(run)
        run.pending_overhead = self.cost_s
        run.state = WAITING
        self.policy.enqueue(run)

    # ---- internals ------------------------------------------------------------------------------------
    def _start(self, run: Run, p: int, placement) -> None:
        now = self.now
        pool = self.pools[p]
        held = sum(c for _, _, c in placement)
        speed = run.speeds[p]
        overhead = run.pending_overhead
        run.pending_overhead = 0.0
        lim = run.limit
        if lim <= overhead:  # a restore longer than the limit would never progress
            overhead = 0.0
        need = overhead + run.remaining / speed
        dt, kind = need, END
        if lim < dt:
            dt, kind = lim, LIMIT
        if self.fail_rate_per_gpu_s > 0:
            tf = self.rng.expovariate(self.fail_rate_per_gpu_s * run.gpus)
            if tf < dt:
                dt, kind = tf, FAIL
        self._seq += 1
        heappush(self.heap, (now + dt, self._seq, kind, run.idx, run.token))
        run.state = RUNNING
        run.pool = p
        run.placement = placement
        run.held = held
        run.seg_start = now
        run.seg_overhead = overhead
        run.seg_speed = speed
        if run.first_start == INF:
            run.first_start = now
        est = overhead + max(run.estimate - (run.job.duration_s - run.remaining), 0.0) / speed
        run.expected_end = now + min(max(est, 0.0), lim)
        insort(self.ends[p], (run.expected_end, run.idx, held))
        self.running[run.idx] = run
        self.free_total -= held
        self.busy += held
        self.group_alloc[run.group] += held
        if self.busy > self.total_gpus or pool.free_total < 0:
            raise AssertionError("more GPUs in use than the cluster has")  # conservation guard
        self.policy.on_start(run)

    def _stop(self, run: Run) -> None:
        now = self.now
        p = run.pool
        self.pools[p].release(run.placement)
        self.fail_floor[p] = INF
        ends = self.ends[p]
        k = bisect_left(ends, (run.expected_end, run.idx, run.held))
        if k < len(ends) and ends[k][1] == run.idx:
            del ends[k]
        else:  # float ties: fall back to a scan
            for k, e in enumerate(ends):
                if e[1] == run.idx:
                    del ends[k]
                    break
        del self.running[run.idx]
        self.free_total += run.held
        self.busy -= run.held
        self.group_alloc[run.group] -= run.held
        elapsed = now - run.seg_start
        run.run_wall += elapsed
        run.attained += elapsed * run.gpus
        run.lost_gpu_s += min(elapsed, run.seg_overhead) * run.held
        run.segments.append((run.seg_start, now, p, run.held))
        run.token += 1
        run.est_pool = -1
        self.policy.on_stop(run)

    def _event(self, kind: int, run: Run) -> None:
        now = self.now
        if kind == TIMER:
            self.policy.on_timer(run, now)
            return
        elapsed = now - run.seg_start
        if kind == END:
            run.remaining = 0.0
            self._stop(run)
            run.state, run.end = DONE, now
            self.finished += 1
            return
        useful = max(elapsed - run.seg_overhead, 0.0)
        if kind == LIMIT:
            run.remaining = max(run.remaining - useful * run.seg_speed, 0.0)
            self._stop(run)
            if self.requeue_on_limit and run.remaining > 0:
                run.requeues += 1
                run.pending_overhead = self.cost_s
                run.state = WAITING
                self.policy.enqueue(run)
            else:
                run.state, run.end = TIMEOUT, now
                self.finished += 1
            return
        # FAIL: keep the work up to the last periodic checkpoint of this attempt
        saved = math.floor(useful / self.ckpt_s) * self.ckpt_s if self.ckpt_s else 0.0
        run.remaining = max(run.remaining - saved * run.seg_speed, 0.0)
        run.failures += 1
        held = run.held
        self._stop(run)
        run.lost_gpu_s += max(useful - saved, 0.0) * held
        run.pending_overhead = self.cost_s
        run.state = WAITING
        self.policy.enqueue(run)

    def _record(self, t: float) -> None:
        if self._last_t is not None:
            dt = t - self._last_t
            self.busy_gpu_s += self._last_busy * dt
            self.frag_gpu_s += self._last_frag * dt
        frag = 0
        if self.free_total:
            head = self.policy.head()
            if head is not None and self.quota_ok(head):
                free_e = 0
                for p in head.eligible:
                    free_e += self.pools[p].free_total
                if free_e >= head.gpus and not any(self.pools[p].can_fit(head.gpus) for p in head.eligible):
                    frag = free_e
        self._last_t, self._last_busy, self._last_frag = t, self.busy, frag
        if self.record_timeline:
            self.ts.append(t)
            self.ts_busy.append(self.busy)
            self.ts_queue.append(len(self.policy))
            self.ts_frag.append(frag)

    def run(self) -> "Simulation":
        runs, heap, policy = self.runs, self.heap, self.policy
        policy.bind(self)
        n = len(runs)
        to_finish = sum(1 for r in runs if r.state != UNSCHEDULABLE)
        ptr = 0
        bar = _Progress(to_finish) if self.progress else None
        loops = 0
        while True:
            t_arr = runs[ptr].submit if ptr < n else INF
            t_ev = heap[0][0] if heap else INF
            t = t_arr if t_arr < t_ev else t_ev
            if t == INF:
                break
            self.now = t
            while heap and heap[0][0] <= t:
                _, _, kind, idx, token = heappop(heap)
                run = runs[idx]
                if run.token != token or run.state != RUNNING:
                    continue
                self.events += 1
                self._event(kind, run)
            while ptr < n and runs[ptr].submit <= t:
                run = runs[ptr]
                ptr += 1
                if run.state == UNSCHEDULABLE:
                    continue
                run.state = WAITING
                self.events += 1
                policy.enqueue(run)
            self.fail_floor = [INF] * len(self.pools)
            policy.schedule(t)
            self.passes += 1
            self._record(t)
            loops += 1
            if bar is not None and not loops & 1023:
                bar.update(self.finished)
            if ptr >= n and not heap:
                break  # nothing left can happen (jobs still waiting can never start)
        for r in runs:
            if r.state in (WAITING, RUNNING, PENDING):
                r.state = UNFINISHED
        if bar is not None:
            bar.close(self.finished)
        return self


class _Progress:
    """A Rich progress bar on stderr (jobs finished)."""

    def __init__(self, total: int):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._p = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(), TextColumn("jobs"),
                           TimeElapsedColumn(), console=Console(stderr=True), transient=True)
        self._p.start()
        self._task = self._p.add_task("sim", total=total)

    def update(self, done: int) -> None:
        self._p.update(self._task, completed=done)

    def close(self, done: int) -> None:
        self._p.update(self._task, completed=done)
        self._p.stop()


def simulate(cluster: ClusterSpec, jobs: list[Job], policy: str | object = "fifo", *, progress: bool = False,
             record_timeline: bool = True):
    """Run one simulation and return its metrics (`FleetRun`: .result, .sim)."""
    from flopwise.fleet.metrics import summarize
    from flopwise.fleet.policies import make_policy

    pol = make_policy(policy) if isinstance(policy, str) else policy
    if not jobs:
        raise FlopwiseError("the workload has no jobs")
    t0 = time.perf_counter()
    sim = Simulation(cluster, jobs, pol, progress=progress, record_timeline=record_timeline).run()
    wall = time.perf_counter() - t0
    return summarize(sim, wall)
