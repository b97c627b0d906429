"""Scoring behind the track record: every bundled set of a kind (the public rows and benchmarks/data),
by the generation of each row's accelerator, mixture-of-experts models apart ("hopper-moe").
`benchmarks/accuracy_report.py --track-record` writes the result to the bundled track_record.yaml, which
flopwise.catalog.track_record reads (a test keeps the two in step).
"""

from __future__ import annotations

import statistics
from pathlib import Path

from flopwise.catalog.track_record import TrackRecord, key

# the sets scored, in benchmarks/data/ of the repository (the public rows are bundled in the package)
BENCHMARK_SETS = ("llm_foundry_mpt_benchmarks.csv", "torchtitan_h100_performance.csv", "nemo_performance_summary.csv",
                  "tpu_training_performance.csv", "megatron_lm_2019_v100.csv", "frontier_runs.csv")
SERVING_SETS = ("trtllm_v0.14_perf_overview.csv",)


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
