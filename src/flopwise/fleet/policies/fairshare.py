"""Fair share across member groups (max-min fairness on GPUs, weighted by each group's `share`).

Each pass repeatedly serves the group holding the fewest GPUs per unit of share (ties: the group
whose oldest job is oldest), starting that group's oldest job that fits. Groups' quotas
(`quota_gpus`) are enforced by the simulator for every policy; here they simply stop a group.
Work-conserving and non-preemptive: a group above its share keeps what it holds until its jobs end
(instantaneous allocation, not Slurm's decayed historical usage).
"""

from __future__ import annotations

import heapq
from bisect import insort

from flopwise.fleet.policies.base import Policy


class FairShare(Policy):
    name = "fairshare"
    summary = "serve the group with the fewest GPUs per share first (max-min fair, weighted); FIFO inside a group"

    def __init__(self):
        super().__init__()
        self.queues: dict[str, list[tuple]] = {}
        self.shares: dict[str, float] = {}
        self._seq = 0
        self._n = 0

    def bind(self, sim) -> None:
        super().bind(sim)
        gm = sim.cluster.group_map()
        self.shares = {g: (gm[g].share if g in gm else 1.0) for g in sim.group_alloc}

    def enqueue(self, run) -> None:
        self._seq += 1
        insort(self.queues.setdefault(run.group, []), (run.submit, self._seq, run))
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def _weight(self, g: str) -> float:
        return self.sim.group_alloc[g] / self.shares.get(g, 1.0)

    def head(self):
        best = None
        for g, q in self.queues.items():
            if q:
                k = (self._weight(g), q[0][0])
                if best is None or k < best[0]:
                    best = (k, q[0][-1])
        return best[1] if best else None

    def schedule(self, now: float) -> None:
        sim = self.sim
        if sim.free_total == 0 or not self._n:
            return
        heap = [(self._weight(g), q[0][0], g) for g, q in self.queues.items() if q]
        heapq.heapify(heap)
        depth = sim.depth
        while heap and sim.free_total > 0:
            _, _, g = heapq.heappop(heap)
            q = self.queues[g]
            started = False
            for i in range(min(len(q), depth)):
                run = q[i][-1]
                if sim.try_start(run):
                    del q[i]
                    self._n -= 1
                    started = True
                    break
            if started and q:
                heapq.heappush(heap, (self._weight(g), q[0][0], g))
