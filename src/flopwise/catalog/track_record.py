"""The bundled track record (track_record.yaml): flopwise's error on published runs per hardware generation,
for training and serving estimates, MoE models apart. Written by flopwise.validate.track_record.compute via
`benchmarks/accuracy_report.py --track-record`; read here so plans can quote it."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel

from flopwise.catalog._files import data_path, load_yaml

FILE = "track_record.yaml"


class TrackRecord(BaseModel):
    """Published measurements on one hardware generation (dense or MoE models) and flopwise's error on them."""

    generation: str
    moe: bool = False
    rows: int
    median_abs_error: float
    median_error: float  # the bias: + means flopwise predicted faster / more than was measured
    p90_abs_error: float


    def describe(self, what: str = "published runs") -> str:
        """One line for a plan's report: '108 published runs on hopper: median |error| 11.2%, bias +6%, ...'."""
        return (f"{self.rows} {what} on {self.generation}{' (MoE models)' if self.moe else ''}: median |error| "
                f"{self.median_abs_error:.1%}, bias {self.median_error:+.0%}, 90% within {self.p90_abs_error:.1%} "
                "(flopwise validate)")


def key(generation: str, moe: bool) -> str:
    return f"{generation}-moe" if moe else generation


@cache
def _bundled(kind: str = "training") -> dict[str, TrackRecord]:
    if not data_path(FILE).exists():
        return {}
    data = load_yaml(FILE) or {}
    section = data.get("generations" if kind == "training" else "serving") or {}
    return {g: TrackRecord(generation=g.removesuffix("-moe"), moe=g.endswith("-moe"),
                           **{k: v for k, v in rec.items() if k != "moe"}) for g, rec in section.items()}


def for_generation(generation: str, moe: bool = False, kind: str = "training") -> TrackRecord | None:
    """The bundled track record of a hardware generation (for MoE or dense models; of the training or
    the serving estimates), or None where no published run of that kind was scored."""
    return _bundled(kind).get(key(generation, moe))
