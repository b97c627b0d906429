"""What a policy is: it holds the waiting jobs and, once per instant, starts (or preempts) some.

A policy sees the simulation through a few calls (see simulator.py): `sim.try_start(run)`,
`sim.quota_ok(run)`, `sim.preempt(run)`, `sim.add_timer(t, run)`, `sim.free_total`, `sim.depth`.
"""

from __future__ import annotations

from bisect import insort
from typing import ClassVar


class Policy:
    name: ClassVar[str] = ""  # the --policy name; empty for abstract classes
    summary: ClassVar[str] = ""

    def __init__(self, **params):
        if params:
            raise TypeError(f"policy '{self.name}' takes no parameters, got {', '.join(params)}")
        self.sim = None

    def bind(self, sim) -> None:
        self.sim = sim

    # the queue
    def enqueue(self, run) -> None:
        """A job arrives, or comes back after a preemption, time limit or failure."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def head(self):
        """The waiting job that should run next (for the fragmentation metric), or None."""
        raise NotImplementedError

    def schedule(self, now: float) -> None:
        """One pass: start what should start now."""
        raise NotImplementedError

    # notifications
    def on_start(self, run) -> None:
        pass

    def on_stop(self, run) -> None:
        pass

    def on_timer(self, run, now: float) -> None:
        pass


class OrderedPolicy(Policy):
    """A queue sorted by a key that does not change while a job waits. Each pass starts jobs in
    order; a `blocking` policy stops at the first job that does not fit (strict priority), the
    others skip it and look at up to `sim.depth` more. Jobs held back by their group's quota never
    block (as in Slurm, they are not eligible)."""

    blocking: ClassVar[bool] = False

    def __init__(self, **params):
        super().__init__(**params)
        self.queue: list[tuple] = []
        self._seq = 0

    def key(self, run) -> tuple:
        raise NotImplementedError

    def enqueue(self, run) -> None:
        self._seq += 1
        insort(self.queue, (*self.key(run), self._seq, run))

    def __len__(self) -> int:
        return len(self.queue)

    def head(self):
        return self.queue[0][-1] if self.queue else None

    def schedule(self, now: float) -> None:
        q, sim = self.queue, self.sim
        i = skipped = 0
        depth = sim.depth
        while i < len(q) and sim.free_total > 0:
            run = q[i][-1]
            if sim.try_start(run):
                del q[i]
                continue
            if self.blocking and sim.quota_ok(run):
                break
            i += 1
            skipped += 1
            if skipped > depth:
                break
