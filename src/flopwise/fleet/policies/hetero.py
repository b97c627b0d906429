"""Heterogeneity-aware placement (Gavel-like, Narayanan et al. OSDI 2020).

Gavel's insight: a job's speedup differs by accelerator, so who gets the fast GPUs, and whether a
job should take a slow GPU at all, matters. This policy is a greedy, non-preemptive approximation
of Gavel's max-sum of normalized throughput — not its round-based LP with time-sharing:

1. Who gets the fast GPUs: among the oldest waiting jobs (a window of WINDOW), every (job, pool
   with room) pair where the pool is the job's fastest is scored by the job's speed there divided
   by its mean speed over the pools it can use; the best-scoring pairs start first (ties: oldest).
2. Whether to take a slow GPU: then, in FIFO order, a job whose fastest pool is full takes a
   slower pool with room only if it would finish sooner there than by waiting:
   now + estimate / speed_slow <= T + estimate / speed_fast, where T is when the fast pool frees
   enough GPUs for this job and for the jobs ahead of it that are waiting for that pool (from the
   running jobs' expected ends; estimates are time limits, as EASY uses).
"""

from __future__ import annotations

from flopwise.fleet.policies.base import OrderedPolicy

WINDOW = 32
INF = float("inf")


def _time_free(pool, ends: list, x: int, now: float) -> float:
    """When `pool` will have x GPUs free: walk its running jobs by expected end, assuming they hold
    the pool's average GPUs per job (O(1); exact when jobs are the same size)."""
    free = pool.free_total
    if free >= x:
        return now
    if not ends:
        return INF
    per_job = (pool.capacity - free) / len(ends)
    k = int(-(-(x - free) // per_job)) - 1
    return max(ends[k][0], now) if k < len(ends) else INF


class HeterogeneityAware(OrderedPolicy):
    name = "hetero"
    summary = ("Gavel-like: fast pools go to the jobs that gain most; a job takes a slow pool only if it "
               "finishes sooner than by waiting")

    def key(self, run) -> tuple:
        if run.tag is None:  # (fastest pool, its normalized speed): fixed for the job
            speeds = run.speeds
            best = max(run.eligible, key=lambda p: speeds[p])
            run.tag = (best, speeds[best] * len(run.eligible) / sum(speeds[p] for p in run.eligible))
        return (run.submit,)

    def schedule(self, now: float) -> None:
        q, sim = self.queue, self.sim
        if not q or sim.free_total == 0:
            return
        pools = sim.pools
        # 1. the fast pools go to the window's jobs that gain most from them
        pairs = []
        for rank in range(min(len(q), WINDOW)):
            run = q[rank][-1]
            if run.gpus > sim.free_total:
                continue
            best, score = run.tag
            if pools[best].free_total >= run.gpus:
                pairs.append((-score, rank, best, run))
        if pairs:
            pairs.sort(key=lambda x: (x[0], x[1]))
            started = [rank for _, rank, p, run in pairs if run.gpus <= pools[p].free_total and sim.try_start(run, (p,))]
            for k in sorted(started, reverse=True):
                del q[k]
        # 2. FIFO: the fastest pool if it has room, else a slower one if that finishes sooner than waiting
        claimed: dict[int, int] = {}
        i = scanned = 0
        while i < len(q) and scanned < sim.depth and sim.free_total > 0:
            run = q[i][-1]
            best = run.tag[0]
            need = pools[best].held_for(run.gpus)
            if sim.try_start(run, (best,)):
                del q[i]
                continue
            slower = [p for p in run.eligible if p != best and pools[p].free_total >= run.gpus]
            if slower:
                t_fast = _time_free(pools[best], sim.ends[best], claimed.get(best, 0) + need, now)
                est = max(run.estimate - (run.job.duration_s - run.remaining), 1.0)
                wait_finish = t_fast + est / run.speeds[best]
                slower.sort(key=lambda p: -run.speeds[p])
                ok = [p for p in slower if now + est / run.speeds[p] <= wait_finish]
                if ok and sim.try_start(run, ok):
                    del q[i]
                    continue
            claimed[best] = claimed.get(best, 0) + need
            i += 1
            scanned += 1

