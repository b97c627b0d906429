"""Least attained service, discretized over GPU-time (Tiresias' 2D-LAS, Gu et al. NSDI 2019).

A job's priority queue is set by the GPU-seconds it has received: queue 0 below the first
threshold, queue 1 below the second, and so on. Lower queues run first, FIFO (by submit time)
inside a queue. Needs no duration estimate. Preemptive: when the best waiting job does not fit,
running jobs of strictly lower priority (the most recently started first) are preempted until it
does; a preempted job checkpoints and pays the cluster's preemption cost when it resumes. A running
job that crosses a threshold is demoted at that instant (a timer), so long jobs yield to new ones.
"""

from __future__ import annotations

from bisect import insort

from flopwise.fleet.policies.base import Policy

DEFAULT_THRESHOLDS_GPU_H = (1.0, 16.0)  # queue boundaries in GPU-hours of attained service


class LeastAttainedService(Policy):
    name = "las"
    summary = "Tiresias-like discretized least-attained-service (GPU-time queues, preemptive, no estimates needed)"

    def __init__(self, thresholds_gpu_h: tuple[float, ...] = DEFAULT_THRESHOLDS_GPU_H):
        super().__init__()
        self.thresholds_gpu_s = tuple(t * 3600.0 for t in thresholds_gpu_h)
        self.queue: list[tuple] = []
        self._seq = 0
        n = len(self.thresholds_gpu_s) + 1
        self.running: list[dict[int, object]] = [{} for _ in range(n)]  # per level
        self.held_by_level_pool: list[list[int]] | None = None

    def bind(self, sim) -> None:
        super().bind(sim)
        self.held_by_level_pool = [[0] * len(sim.pools) for _ in self.running]

    def _level(self, attained: float) -> int:
        lvl = 0
        for t in self.thresholds_gpu_s:
            if attained >= t:
                lvl += 1
        return lvl

    def enqueue(self, run) -> None:
        run.level = self._level(run.attained)
        self._seq += 1
        insort(self.queue, (run.level, run.submit, self._seq, run))

    def __len__(self) -> int:
        return len(self.queue)

    def head(self):
        return self.queue[0][-1] if self.queue else None

    def on_start(self, run) -> None:
        run.level = self._level(run.attained)
        self.running[run.level][run.idx] = run
        self.held_by_level_pool[run.level][run.pool] += run.held
        if run.level < len(self.thresholds_gpu_s):
            t = self.sim.now + (self.thresholds_gpu_s[run.level] - run.attained) / run.gpus
            self.sim.add_timer(t, run)

    def on_stop(self, run) -> None:
        self.running[run.level].pop(run.idx, None)
        self.held_by_level_pool[run.level][run.pool] -= run.held

    def on_timer(self, run, now: float) -> None:  # demotion
        self.running[run.level].pop(run.idx, None)
        self.held_by_level_pool[run.level][run.pool] -= run.held
        run.level += 1
        self.running[run.level][run.idx] = run
        self.held_by_level_pool[run.level][run.pool] += run.held
        if run.level < len(self.thresholds_gpu_s):
            t = now + (self.thresholds_gpu_s[run.level] - self.sim.attained_gpu_s(run)) / run.gpus
            self.sim.add_timer(max(t, now), run)

    def schedule(self, now: float) -> None:
        q, sim = self.queue, self.sim
        i = skipped = 0
        tried_preempt = False
        while i < len(q):
            run = q[i][-1]
            if sim.free_total > 0 and sim.try_start(run):
                del q[i]
                continue
            if not tried_preempt and sim.quota_ok(run):
                tried_preempt = True  # only the best blocked job may preempt, once per pass
                if self._preempt_for(run) and sim.try_start(run):
                    del q[i]
                    continue
            i += 1
            skipped += 1
            if skipped > sim.depth or (sim.free_total == 0 and tried_preempt):
                break

    def _preempt_for(self, run) -> bool:
        """Preempt lower-priority jobs until `run` fits on one of its pools; False if it cannot."""
        sim = self.sim
        lower = range(len(self.running) - 1, run.level, -1)
        for p in run.eligible:
            pool = sim.pools[p]
            need = pool.held_for(run.gpus)
            if pool.free_total + sum(self.held_by_level_pool[lv][p] for lv in lower) < need:
                continue
            victims = []
            for lv in lower:
                victims.extend(sorted((r for r in self.running[lv].values() if r.pool == p),
                                      key=lambda r: -r.seg_start))
            for v in victims:
                if pool.can_fit(run.gpus):
                    break
                sim.preempt(v)
            return pool.can_fit(run.gpus)
        return False
