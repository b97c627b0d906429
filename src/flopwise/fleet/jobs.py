"""One job of a workload, as read from a trace or generated (durations in seconds)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class Job:
    """What was submitted. `duration_s` is the run time on the job's reference accelerator
    (`gpu_type` if the trace says where it ran, else the cluster's first pool); on another pool it
    runs `duration_s / speed`. `time_limit_s` is the user's wall-time request (Slurm --time)."""

    id: str
    submit_s: float
    gpus: int
    duration_s: float
    group: str = "default"
    user: str = ""
    time_limit_s: float | None = None
    model: str | None = None  # catalog model id: speedups per accelerator come from the planner
    gpu_type: str | None = None  # accelerator (or pool) the duration was measured on
    require_type: str | None = None  # must run on this accelerator (or pool)
    trace_state: str = ""  # final state in the source trace (COMPLETED, TIMEOUT, Pass, Terminated, ...)
    speedups: dict[str, float] | None = None  # measured throughput per pool name or accelerator (Gavel-style)


def parse_speedups(text: str) -> dict[str, float]:
    """'a100:2.5;v100:1' -> {'a100': 2.5, 'v100': 1.0}."""
    from flopwise.errors import FlopwiseError

    out = {}
    for part in text.replace(",", ";").split(";"):
        if not part.strip():
            continue
        name, sep, value = part.partition(":")
        try:
            v = float(value)
        except ValueError:
            v = -1.0
        if not sep or not name.strip() or not v >= 0:
            raise FlopwiseError(f"speedups must look like 'a100:2.5;v100:1' (throughput >= 0 per pool), got '{text}'")
        out[name.strip()] = v
    return out


def format_speedups(speedups: dict[str, float] | None) -> str:
    return ";".join(f"{k}:{v:g}" for k, v in speedups.items()) if speedups else ""


FLOPWISE_COLUMNS = ("job_id", "submit_s", "gpus", "duration_s", "group", "user", "time_limit_s",
                    "model", "gpu_type", "require_type", "speedups")
