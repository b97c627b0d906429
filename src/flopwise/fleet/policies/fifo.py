"""First in, first out, strictly: the oldest job runs first and nothing passes it (Slurm without backfill)."""

from flopwise.fleet.policies.base import OrderedPolicy


class Fifo(OrderedPolicy):
    name = "fifo"
    summary = "first come, first served; the oldest waiting job blocks the rest (strict order)"
    blocking = True

    def key(self, run) -> tuple:
        return (run.submit,)
