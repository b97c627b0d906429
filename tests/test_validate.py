"""`flopwise validate`: accepts any file in the shared schema and scores it honestly."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from flopwise.catalog._files import data_path

TRAINING = data_path("training_public.csv")


def test_bundled_training_runs_meet_the_median_target(cli):
    out = cli("validate", "--runs", str(TRAINING), "--json", check=True)
    rep = json.loads(out.stdout)
    assert {"rows", "median_abs_error", "max_abs_error"} <= rep.keys()
    scored = [r for r in rep["rows"] if r["error"] is not None]
    assert len(scored) >= 60
    for r in scored:
        assert {"id", "predicted", "measured", "error"} <= r.keys()
        assert r["error"] == pytest.approx(r["predicted"] / r["measured"] - 1)
    assert rep["median_abs_error"] <= 0.10
    # benchmark-throughput rows (not whole-run GPU-hours) stay within 25%
    bench = [abs(r["error"]) for r in scored if r["metric"] != "gpu_hours"]
    assert max(bench) <= 0.25


def test_any_file_in_the_schema(tmp_path: Path, cli):
    rows = list(csv.DictReader(open(TRAINING, newline="")))
    keep = [r for r in rows if r["id"] in {"korth-1T-sel", "torchtitan-a100-3"}]
    custom = tmp_path / "mine.csv"
    with open(custom, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()) + ["extra_column"])
        w.writeheader()
        for r in keep:
            w.writerow({**r, "extra_column": "ignored"})
    rep = json.loads(cli("validate", "--runs", str(custom), "--json", check=True).stdout)
    assert [r["id"] for r in rep["rows"]] == ["korth-1T-sel", "torchtitan-a100-3"]
    assert rep["max_abs_error"] < 0.25


def test_bad_runs_files(tmp_path: Path, cli):
    bad = tmp_path / "bad.csv"
    bad.write_text("name,value\nx,1\n")
    out = cli("validate", "--runs", str(bad))
    assert out.returncode == 2 and "id" in out.stderr
    typo = tmp_path / "typo.csv"
    rows = list(csv.DictReader(open(TRAINING, newline="")))
    with open(typo, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0].keys()))
        w.writeheader()
        w.writerow({**rows[0], "layers": "many"})
    out = cli("validate", "--runs", str(typo))
    assert out.returncode == 2 and "layers" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    out = cli("validate", "--runs", str(tmp_path / "missing.csv"))
    assert out.returncode == 2 and "does not exist" in out.stderr
