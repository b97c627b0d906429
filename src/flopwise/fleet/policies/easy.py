"""EASY backfilling (Lifka 1995; Slurm's sched/backfill with one reservation).

Jobs run in FIFO order. When the oldest job does not fit, it gets a reservation: the earliest
time (the shadow time) its GPUs free up, found by walking the running jobs by their expected end
(start + time limit, as Slurm does; the true duration when a job gives no limit). A later job may
start now if it fits and either ends (by its estimate) before the shadow time or uses only GPUs
the reserved job will not need ("extra" GPUs), so the oldest job is never delayed.

On a packed pool the shadow time is found node by node (releases are replayed on per-node free
counts until the oldest job's shape fits); a multi-node oldest job then allows only backfill that
ends before the shadow time, since long jobs could take the whole nodes it needs. Pools with
topology blocks or count-only placement use GPU counts (an approximation).
"""

from __future__ import annotations

from flopwise.fleet.policies.base import OrderedPolicy


class EasyBackfill(OrderedPolicy):
    name = "easy"
    summary = "FIFO with EASY backfilling: later jobs jump ahead if they do not delay the oldest (needs time limits)"

    def key(self, run) -> tuple:
        return (run.submit,)

    def _reservation(self, head, now: float):
        """[pool, shadow time, extra GPUs] for the blocked head job, or None."""
        best = None
        for p in head.eligible:
            got = self._shadow(head, p, now)
            if got is not None and (best is None or got[0] < best[1]):
                best = [p, got[0], got[1]]
        return best

    def _shadow(self, head, p: int, now: float):
        """(shadow time, extra GPUs) on pool p, releasing running jobs in order of expected end."""
        sim = self.sim
        pool = sim.pools[p]
        ends = sim.ends[p]
        g = head.gpus
        if pool.single and pool.spec.placement == "packed":
            # node-level: replay releases on a copy of the per-node free counts until the head's shape fits
            ns = pool.blocks[0]
            G = ns.gpn
            free = list(ns.free)
            counts = [len(b) for b in ns.buckets]
            total = ns.free_total
            full, rem = divmod(g, G)

            def fits() -> bool:
                if g <= G:
                    return any(counts[k] for k in range(g, G + 1))
                if rem == 0:
                    return counts[G] >= full
                if any(counts[k] for k in range(rem, G)):
                    return counts[G] >= full
                return counts[G] >= full + 1

            shadow = now
            k = 0
            while not fits():
                if k >= len(ends):
                    return None
                t, idx, held = ends[k]
                k += 1
                shadow = max(t, now)
                for _, n, c in sim.runs[idx].placement:
                    counts[free[n]] -= 1
                    free[n] += c
                    counts[free[n]] += 1
                total += held
            # a multi-node job needs whole nodes: long backfill jobs could take them, so none may
            return shadow, (total - g if g <= G else 0)
        need = pool.held_for(g)
        free = pool.free_total
        shadow = now
        k = 0
        if free >= need and ends:  # enough GPUs in the wrong shape (blocks): assume the next end fixes it
            shadow = max(ends[0][0], now)
            free += ends[0][2]
        while free < need:
            if k >= len(ends):
                return None
            shadow = max(ends[k][0], now)
            free += ends[k][2]
            k += 1
        return shadow, free - need

    def schedule(self, now: float) -> None:
        q, sim = self.queue, self.sim
        i = 0
        while i < len(q):  # FIFO until the first job that is eligible but does not fit
            run = q[i][-1]
            if sim.try_start(run):
                del q[i]
                continue
            if sim.quota_ok(run):
                break
            i += 1
        if i >= len(q) or sim.free_total == 0:
            return
        res = self._reservation(q[i][-1], now)
        pools, floor = sim.pools, sim.fail_floor
        rp, shadow = (res[0], res[1]) if res else (-1, now)
        j, scanned = i + 1, 0
        while j < len(q) and scanned < sim.depth and sim.free_total > 0:
            run = q[j][-1]
            scanned += 1
            g = run.gpus
            started = False
            for p in run.eligible:  # pools the reservation does not touch: start if it fits
                if p != rp and g < floor[p] and pools[p].free_total >= g and sim.try_start(run, (p,)):
                    started = True
                    break
            if not started and res is not None and g < floor[rp] and pools[rp].free_total >= g and rp in run.eligible:
                held = pools[rp].held_for(g)
                if run.est_pool != rp:  # the estimate does not change while a job waits
                    run.est_pool, run.est_wall_s = rp, sim.est_wall(run, rp)
                ends_before = now + run.est_wall_s <= shadow
                if (ends_before or held <= res[2]) and sim.try_start(run, (rp,)):
                    started = True
                    if not ends_before:
                        res[2] -= held  # uses GPUs the reserved job will not need
            if started:
                del q[j]
                continue
            j += 1
