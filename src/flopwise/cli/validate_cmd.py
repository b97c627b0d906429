"""`flopwise validate`: score the estimators against published runs."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from flopwise.catalog.runs import load_runs
from flopwise.cli.common import JSON_OPT, console, print_json
from flopwise.errors import FlopwiseError, unknown
from flopwise.validate.scoring import ValidationReport, group_summary, summarize


def score_file(path: Path | None, kind: str | None = None, only: list[str] | None = None) -> ValidationReport:
    """Score every row of a runs file (or only the rows whose ids are in `only`, with their breakdowns)."""
    kind_found, rows = load_runs(path, kind)
    if only:
        ids = [r.id for r in rows]
        missing = [i for i in only if i not in ids]
        if missing:
            raise unknown(f"row id in {path or 'the bundled ' + kind_found + ' runs'}", missing[0], ids)
        rows = [r for r in rows if r.id in only]
    if kind_found == "training":
        from flopwise.validate.training import score_training_row

        scores = [score_training_row(r, explain=bool(only)) for r in rows]
    else:
        try:
            from flopwise.validate.inference import score_inference_row
        except ModuleNotFoundError:
            raise FlopwiseError("inference validation is not available in this version") from None
        scores = [score_inference_row(r) for r in rows]
    rep = summarize(kind_found, str(path) if path else f"bundled {kind_found}_public.csv", scores)
    scored = [s for s in scores if s.error is not None]
    by_acc: dict[str, list] = {}
    for row, s in zip(rows, scores):
        by_acc.setdefault(row.accelerator or "(not given)", []).append(s)
    rep.by_accelerator = {acc: group_summary(ss) for acc, ss in sorted(by_acc.items())}
    if kind_found == "inference":
        from flopwise.validate.inference import is_throughput_metric

        rep.groups = {
            "throughput": group_summary([s for s in scored if is_throughput_metric(s)]),
            "latency": group_summary([s for s in scored if not is_throughput_metric(s)]),
        }
    else:
        # benchmark throughput (what the step-time model predicts) vs whole runs' GPU-hours
        whole = [s for s in scored if s.metric == "gpu_hours"]
        if whole:
            rep.groups = {
                "throughput benchmarks": group_summary([s for s in scored if s.metric != "gpu_hours"]),
                "whole-run GPU-hours": group_summary(whole),
            }
    return rep


def print_report(rep: ValidationReport) -> None:
    t = Table(title=f"{rep.kind} validation: {rep.runs_file}")
    for c in ("id", "metric", "predicted", "measured", "error", "plan / note"):
        t.add_column(c, overflow="fold")
    for r in rep.rows:
        if r.error is None:
            t.add_row(r.id, "-", "-", "-", "-", f"[dim]{r.note}[/dim]")
            continue
        color = "green" if abs(r.error) <= 0.10 else ("yellow" if abs(r.error) <= 0.25 else "red")
        t.add_row(r.id, r.metric, f"{r.predicted:.4g}", f"{r.measured:.4g}", f"[{color}]{r.error:+.1%}[/{color}]",
                  r.plan + (f" [dim]({r.note})[/dim]" if r.note else ""))
    console.print(t)
    if rep.median_abs_error is not None:
        console.print(f"scored {rep.scored} rows ({rep.skipped} skipped): median |error| {rep.median_abs_error:.1%}, "
                      f"worst {rep.max_abs_error:.1%} ({', '.join(rep.worst_rows)})")
    else:
        console.print(f"scored 0 rows ({rep.skipped} skipped: see each row's note)")
    for name, g in rep.groups.items():
        if g["scored"]:
            console.print(f"  {name}: {g['scored']} rows, median |error| {g['median_abs_error']:.1%}, "
                          f"worst {g['max_abs_error']:.1%} ({', '.join(g['worst_rows'])})")
    accs = {a: g for a, g in rep.by_accelerator.items() if g["scored"]}
    if len(accs) > 1:
        console.print("  by accelerator (median |error|, median signed error = bias, worst): " + "; ".join(
            f"{a} {g['scored']}: {g['median_abs_error']:.1%}, {g['median_error']:+.1%}, {g['max_abs_error']:.0%}"
            for a, g in accs.items()))


def print_breakdowns(rep: ValidationReport) -> None:
    """Per row: where the predicted step time and memory go (training rows)."""
    for r in rep.rows:
        if not r.breakdown:
            continue
        step, mem = r.breakdown["step_s"], r.breakdown["memory_gib"]
        t = Table(title=f"{r.id}: {r.plan} — step {step['total']:.4g} s, memory {mem['total']:.1f} GiB per GPU")
        for c in ("step component", "seconds", "share", "memory component", "GiB"):
            t.add_column(c, justify="left" if "component" in c else "right")
        steps = [(k, v) for k, v in step.items() if k != "total"]
        mems = [(k, v) for k, v in mem.items() if k != "total"]
        for j in range(max(len(steps), len(mems))):
            sk, sv = steps[j] if j < len(steps) else ("", None)
            mk, mv = mems[j] if j < len(mems) else ("", None)
            t.add_row(sk.replace("_", " "), "" if sv is None else f"{sv:.4g}",
                      "" if sv is None else f"{sv / step['total']:.1%}", mk, "" if mv is None else f"{mv:.2f}")
        console.print(t)


def validate(
    runs: list[Path] = typer.Option(None, "--runs", help="CSV file(s) in the validation schema (default: bundled public runs)"),
    kind: str = typer.Option("all", "--kind", help="with no --runs: training, inference or all"),
    row: list[str] = typer.Option(None, "--row", help="only these row ids, each with its predicted step-time and "
                                                       "memory breakdown (training rows; repeat for several)"),
    json_out: bool = JSON_OPT,
) -> None:
    """Score predictions against published measurements: per-row error, median and worst."""
    if kind not in {"training", "inference", "all"}:
        raise FlopwiseError(f"--kind must be training, inference or all, got '{kind}'")
    reports: list[ValidationReport] = []
    if runs:
        for path in runs:
            if not path.exists():
                raise FlopwiseError(f"runs file {path} does not exist")
            reports.append(score_file(path, only=row))
    else:
        kinds = ["training", "inference"] if kind == "all" else [kind]
        if row and kind == "all":
            kinds = ["training"]  # row ids name bundled training rows unless --kind inference says otherwise
        for k in kinds:
            try:
                reports.append(score_file(None, k, only=row))
            except FlopwiseError as exc:
                if kind == "all" and "not available" in str(exc):
                    continue
                raise
    if json_out:
        print_json(reports[0].model_dump() if len(reports) == 1 else {"reports": [r.model_dump() for r in reports]})
        return
    for rep in reports:
        print_report(rep)
        print_breakdowns(rep)


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
