"""Scoring predictions against measurements: per-row error, median and worst absolute error."""

from __future__ import annotations

import statistics

from pydantic import BaseModel


class RowScore(BaseModel):
    id: str
    metric: str
    predicted: float | None
    measured: float | None
    error: float | None  # predicted / measured - 1
    plan: str = ""
    note: str = ""
    # with `flopwise validate --row ID`: the predicted plan's step time (seconds per optimizer step) and
    # memory per GPU (GiB), component by component, so a row's error can be traced to its parts
    breakdown: dict[str, dict[str, float]] | None = None

    @classmethod
    def skipped(cls, row_id: str, reason: str) -> "RowScore":
        """A row that could not be scored, with why."""
        return cls(id=row_id, metric="", predicted=None, measured=None, error=None, note=f"skipped: {reason}")


class ValidationReport(BaseModel):
    kind: str
    runs_file: str
    rows: list[RowScore]
    scored: int
    skipped: int
    median_abs_error: float | None
    max_abs_error: float | None
    worst_rows: list[str]
    groups: dict[str, dict] = {}  # per metric family (e.g. inference throughput vs latency)
    by_accelerator: dict[str, dict] = {}  # the same summary per accelerator id: how far to trust each part


def group_summary(rows: list[RowScore]) -> dict:
    """Median / worst absolute error of a subset of rows, and the median signed error (the bias: + means
    flopwise predicts more than was measured)."""
    signed = [r.error for r in rows if r.error is not None]
    errs = [abs(e) for e in signed]
    worst = sorted((r for r in rows if r.error is not None), key=lambda r: -abs(r.error))[:3]
    return {"scored": len(errs), "median_abs_error": statistics.median(errs) if errs else None,
            "median_error": statistics.median(signed) if signed else None,
            "max_abs_error": max(errs) if errs else None, "worst_rows": [r.id for r in worst]}


def summarize(kind: str, runs_file: str, rows: list[RowScore]) -> ValidationReport:
    scored = [r for r in rows if r.error is not None]
    errs = [abs(r.error) for r in scored]
    worst = sorted(scored, key=lambda r: -abs(r.error))[:3]
    return ValidationReport(
        kind=kind, runs_file=runs_file, rows=rows, scored=len(scored), skipped=len(rows) - len(scored),
        median_abs_error=statistics.median(errs) if errs else None, max_abs_error=max(errs) if errs else None,
        worst_rows=[r.id for r in worst],
    )
