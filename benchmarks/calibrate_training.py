"""Sweep the few shared efficiency parameters and print median/worst error on a runs file.

This is how the defaults in flopwise/estimate/efficiency.py were checked: one grid over per-generation
matmul efficiency and the overlap efficiency, scored on every row at once (never per row).
Usage: python benchmarks/calibrate_training.py [RUNS.csv]
"""

from __future__ import annotations

import itertools
import statistics
import sys
from dataclasses import replace
from pathlib import Path

from flopwise.catalog.runs import load_runs
from flopwise.estimate import efficiency as E
from flopwise.validate.training import score_training_row


def score(rows) -> tuple[float, float]:
    errs = [abs(s.error) for s in map(score_training_row, rows) if s.error is not None]
    return statistics.median(errs), max(errs)


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    _, rows = load_runs(path, "training")
    base = dict(E.EFFICIENCY)
    results = []
    for amp, hop, ov in itertools.product((0.70, 0.75, 0.80), (0.55, 0.60, 0.65), (0.5, 0.7, 0.9)):
        E.EFFICIENCY["ampere"] = replace(base["ampere"], matmul=amp)
        E.EFFICIENCY["hopper"] = replace(base["hopper"], matmul=hop)
        E.OVERLAP_EFFICIENCY = ov
        med, worst = score(rows)
        results.append((med, worst, amp, hop, ov))
        print(f"ampere {amp:.2f} hopper {hop:.2f} overlap {ov:.1f}: median {med:.1%} worst {worst:.1%}", flush=True)
    best = min(results)
    print(f"best median: {best[0]:.1%} (worst {best[1]:.1%}) at ampere {best[2]}, hopper {best[3]}, overlap {best[4]}")


if __name__ == "__main__":
    main()
