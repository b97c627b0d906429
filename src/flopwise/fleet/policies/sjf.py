"""Shortest job first: by estimated run time (the time limit when the job gives one, else the true
duration: an oracle, as in the Tiresias and Alibaba PAI simulators). Non-preemptive; a job that
does not fit is skipped (work-conserving)."""

from flopwise.fleet.policies.base import OrderedPolicy


class ShortestJobFirst(OrderedPolicy):
    name = "sjf"
    summary = "shortest estimated run time first (time limit, else the true duration); skips jobs that do not fit"

    def key(self, run) -> tuple:
        return (run.estimate, run.submit)
