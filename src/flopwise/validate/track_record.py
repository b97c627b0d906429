"""The estimators' track record per hardware generation: how far their training and serving estimates
landed from published measurements on that kind of hardware, so each plan can say how far to trust it.

`compute()` scores every bundled set of a kind (the public rows and benchmarks/data) and groups the rows
by the generation of their accelerator, mixture-of-experts models apart ("hopper-moe");
`benchmarks/accuracy_report.py --track-record` writes the result to the bundled track_record.yaml, which
`for_generation()` reads (a test keeps the two in step).
"""

from __future__ import annotations

import statistics
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from flopwise.catalog._files import data_path, load_yaml

FILE = "track_record.yaml"
# the sets scored, in benchmarks/data/ of the repository (the public rows are bundled in the package)
BENCHMARK_SETS = ("llm_foundry_mpt_benchmarks.csv", "torchtitan_h100_performance.csv", "nemo_performance_summary.csv",
                  "tpu_training_performance.csv", "megatron_lm_2019_v100.csv")
SERVING_SETS = ("trtllm_v0.14_perf_overview.csv",)


class TrackRecord(BaseModel):
    """Published measurements on one hardware generation (dense or MoE models) and flopwise's error on them."""

    generation: str
    moe: bool = False
    rows: int
    median_abs_error: float
    median_error: float  # the bias: + means flopwise predicted faster / more than was measured
    p90_abs_error: float


def compute(repo_root: Path, kind: str = "training") -> dict[str, TrackRecord]:
    """Score the bundled public rows and the benchmarks/data sets of `kind` (training or inference), by
    generation."""
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.catalog.runs import load_runs
    from flopwise.errors import FlopwiseError
    from flopwise.validate.architecture import model_from_row

    if kind == "training":
        from flopwise.validate.training import score_training_row as score_row
    else:
        from flopwise.validate.inference import score_inference_row as score_row
    sets = BENCHMARK_SETS if kind == "training" else SERVING_SETS
    errors: dict[str, list[float]] = {}
    paths: list[Path | None] = [None] + [repo_root / "benchmarks" / "data" / f for f in sets]
    for path in paths:
        _, rows = load_runs(path, kind)
        for row in rows:
            score = score_row(row)
            if score.error is None or not row.accelerator:
                continue
            try:
                moe = model_from_row(row, getattr(row, "seq_len", None) or 2048)[0].is_moe
            except FlopwiseError:
                moe = False
            errors.setdefault(key(get_accelerator(row.accelerator).generation, moe), []).append(score.error)
    out = {}
    for gen, errs in sorted(errors.items()):
        absolute = sorted(abs(e) for e in errs)
        out[gen] = TrackRecord(generation=gen.removesuffix("-moe"), moe=gen.endswith("-moe"), rows=len(errs), median_abs_error=round(statistics.median(absolute), 4),
                               median_error=round(statistics.median(errs), 4),
                               p90_abs_error=round(absolute[min(len(absolute) - 1, int(0.9 * len(absolute)))], 4))
    return out


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
