"""Print the validation results as Markdown (the tables in docs/accuracy.md are made with this).

Usage: python benchmarks/accuracy_report.py [training|inference ...]
       python benchmarks/accuracy_report.py --track-record   # rewrite the bundled track_record.yaml
"""

from __future__ import annotations

import sys

from flopwise.cli.validate_cmd import score_file
from flopwise.errors import FlopwiseError


def table(kind: str) -> str:
    rep = score_file(None, kind)
    lines = [f"### {kind}: {rep.scored} rows scored, {rep.skipped} skipped — median |error| "
             f"{rep.median_abs_error:.1%}, worst {rep.max_abs_error:.1%} ({', '.join(rep.worst_rows)})", "",
             "| id | metric | predicted | measured | error | plan / note |", "| --- | --- | ---: | ---: | ---: | --- |"]
    for r in rep.rows:
        if r.error is None:
            lines.append(f"| {r.id} | – | – | – | – | {r.note} |")
        else:
            note = r.plan + (f" ({r.note})" if r.note else "")
            lines.append(f"| {r.id} | {r.metric} | {r.predicted:.4g} | {r.measured:.4g} | {r.error:+.1%} | {note} |")
    return "\n".join(lines)


def write_track_record() -> None:
    """Score every bundled training set by hardware generation and write track_record.yaml."""
    import datetime
    from pathlib import Path

    import yaml

    from flopwise.catalog._files import data_path
    from flopwise.catalog.track_record import FILE
    from flopwise.validate.track_record import BENCHMARK_SETS, SERVING_SETS, compute

    root = Path(__file__).resolve().parents[1]
    rec = compute(root)
    serving = compute(root, "inference")
    doc = {
        "about": "flopwise's error on published runs, per hardware generation (MoE models apart): training "
                 "estimates ('generations') and serving estimates ('serving'); written by "
                 "benchmarks/accuracy_report.py --track-record from the bundled public rows and benchmarks/data/ "
                 + ", ".join(BENCHMARK_SETS + SERVING_SETS),
        "written": datetime.date.today().isoformat(),
        "generations": {g: r.model_dump(exclude={"generation", "moe"}) for g, r in rec.items()},
        "serving": {g: r.model_dump(exclude={"generation", "moe"}) for g, r in serving.items()},
    }
    with open(data_path(FILE), "w", encoding="utf-8") as fh:
        yaml.safe_dump(doc, fh, sort_keys=False, width=110)
    for label, recs in (("training", rec), ("serving", serving)):
        for g, r in recs.items():
            print(f"{label} {g}: {r.rows} rows, median |error| {r.median_abs_error:.1%}, bias {r.median_error:+.1%}")


def main() -> None:
    if sys.argv[1:] == ["--track-record"]:
        write_track_record()
        return
    kinds = sys.argv[1:] or ["training", "inference"]
    for k in kinds:
        try:
            print(table(k))
            print()
        except FlopwiseError as exc:
            print(f"{k}: {exc}\n")


if __name__ == "__main__":
    main()
