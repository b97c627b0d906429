"""Print the validation results as Markdown (the tables in docs/accuracy.md are made with this).

Usage: python benchmarks/accuracy_report.py [training|inference ...]
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


def main() -> None:
    kinds = sys.argv[1:] or ["training", "inference"]
    for k in kinds:
        try:
            print(table(k))
            print()
        except FlopwiseError as exc:
            print(f"{k}: {exc}\n")


if __name__ == "__main__":
    main()
