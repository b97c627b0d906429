"""`flopwise fleet simulate|compare|generate|policies`: schedule a shared cluster, event by event."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import typer
from rich import box
from rich.table import Table

from flopwise.cli.common import JSON_OPT, console, print_json
from flopwise.errors import FlopwiseError
from flopwise.report.format import pct

fleet_app = typer.Typer(help="Simulate a shared GPU/TPU cluster: scheduling policies, queueing, utilization, "
                        "fragmentation, fairness.", no_args_is_help=True)

CLUSTER_OPT = typer.Option(..., "--cluster", help="cluster YAML (pools, optional topology, groups, levers)")
JOBS_OPT = typer.Option(None, "--jobs", help="trace: Helios/Acme CSV, Philly JSON, PAI task table (or folder), flopwise CSV")
FORMAT_OPT = typer.Option("auto", "--format", help="auto, helios, acme, philly, pai, flopwise")
SYNTH_OPT = typer.Option(None, "--synthetic", help="instead of a trace: generate this many jobs (see `fleet generate`)")
LOAD_OPT = typer.Option(0.8, "--load", help="synthetic: offered load as a fraction of the cluster's capacity, in (0, 10]")
SEED_OPT = typer.Option(0, "--seed", help="synthetic workload and failure draws (a non-negative integer)")
LIMIT_OPT = typer.Option(None, "--limit", help="use only the first N jobs of the trace")
FAIL_OPT = typer.Option(None, "--failure-rate-per-gpu-hour",
                        help="interruptions per GPU-hour, in [0, 1] (default: the cluster file's, else Llama 3: 419 in 54 days on 16,384 GPUs); 0 disables")
PREEMPT_OPT = typer.Option(None, "--preemption-cost-s", help="seconds to save and restore on preemption/requeue/restart")
DEPTH_OPT = typer.Option(None, "--queue-depth", help="jobs a policy looks at per pass (default 100, as Slurm)")
PROGRESS_OPT = typer.Option(True, "--progress/--no-progress", help="progress bar on stderr (when it is a terminal)")
MAX_LOAD = 10.0
LOAD_MEANING = ("the offered load is the jobs' GPU-time as a fraction of the cluster's capacity: "
                "0.8 keeps it 80% busy, above 1 it is oversubscribed")


def _check_seed(seed: int) -> None:
    if seed < 0:
        raise FlopwiseError(f"--seed must be a non-negative integer, got {seed}")


def _check_load(load: float) -> None:
    if not 0 < load <= MAX_LOAD:  # also refuses nan
        raise FlopwiseError(f"--load must be in (0, {MAX_LOAD:g}], got {load:g} ({LOAD_MEANING})")


def _setup(cluster_file: Path, jobs_file: Path | None, fmt: str, synthetic: int | None, load: float, seed: int,
           limit: int | None, failure_rate: float | None, preemption_cost: float | None, depth: int | None):
    from flopwise.fleet.cluster import failure_rate_problem, load_cluster
    from flopwise.fleet.synthetic import generate
    from flopwise.fleet.traces import read_trace

    _check_seed(seed)
    if synthetic is not None:
        if synthetic <= 0:
            raise FlopwiseError(f"--synthetic must be a positive number of jobs, got {synthetic}")
        _check_load(load)
    upd = {"seed": seed}
    if failure_rate is not None:
        why = failure_rate_problem(failure_rate)
        if why:
            raise FlopwiseError(f"--failure-rate-per-gpu-hour {why}")
        upd["failure_rate_per_gpu_hour"] = failure_rate
    if preemption_cost is not None:
        if not (math.isfinite(preemption_cost) and preemption_cost >= 0):
            raise FlopwiseError(f"--preemption-cost-s must be a finite number of seconds >= 0, got {preemption_cost:g}")
        upd["preemption_cost_s"] = preemption_cost
    if depth is not None:
        if depth <= 0:
            raise FlopwiseError(f"--queue-depth must be positive, got {depth}")
        upd["queue_depth"] = depth
    cluster = load_cluster(cluster_file)
    cluster = cluster.model_copy(update={"levers": cluster.levers.model_copy(update=upd)})
    if (jobs_file is None) == (synthetic is None):
        raise FlopwiseError("give either --jobs TRACE or --synthetic N")
    if limit is not None and limit <= 0:
        raise FlopwiseError(f"--limit must be positive, got {limit}")
    if synthetic is not None:
        jobs = generate(cluster, jobs=synthetic, load=load, seed=seed)
    else:
        jobs = read_trace(jobs_file, fmt, limit)
    return cluster, jobs


def _progress(flag: bool, json_out: bool) -> bool:
    return flag and sys.stderr.isatty()


def _h(seconds: float) -> str:
    return f"{seconds / 3600:,.2f}"


def print_result(r) -> None:
    t = Table(title=f"{r.cluster}: {r.jobs:,} jobs on {r.total_gpus:,} GPUs, policy {r.policy}", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    t.add_row("jobs", f"{r.jobs_completed:,} completed, {r.jobs_timeout:,} killed at a time limit, "
              f"{r.jobs_unschedulable:,} unschedulable, {r.jobs_unfinished:,} never finished")
    t.add_row("job completion time", f"average {_h(r.avg_jct_s)} h, median {_h(r.p50_jct_s)} h, p99 {_h(r.p99_jct_s)} h")
    t.add_row("queueing delay", f"average {_h(r.avg_queue_delay_s)} h, p99 {_h(r.p99_queue_delay_s)} h")
    t.add_row("bounded slowdown", f"average {r.avg_bounded_slowdown:,.2f}")
    t.add_row("utilization", f"{pct(r.utilization)} ({r.busy_gpu_hours:,.0f} GPU-hours held)")
    t.add_row("fragmentation", f"{pct(r.fragmented_gpu_fraction)} of GPU-time idle but unusable "
              f"({r.fragmented_gpu_hours:,.0f} GPU-hours)")
    t.add_row("makespan", f"{_h(r.makespan_s)} h ({r.makespan_s / 86400:,.1f} days)")
    t.add_row("interruptions", f"{r.failures:,} failures, {r.preemptions:,} preemptions, {r.requeues:,} requeues at "
              f"a time limit; {r.lost_gpu_hours:,.0f} GPU-hours lost")
    t.add_row("fairness", f"worst group's finish-time fairness rho {r.fairness_worst_rho:.2f} (1 = as well off as alone "
              "on its share)")
    t.add_row("simulation", f"{r.events:,} events, {r.passes:,} scheduling passes, {r.sim_wall_s:.2f} s")
    console.print(t)
    if len(r.groups) > 1:
        g = Table(title="groups (rho = average JCT / average JCT alone on the group's share, FIFO)")
        for c in ("group", "jobs", "share", "GPU-hours", "avg JCT h", "avg queue h", "rho"):
            g.add_column(c, justify="right" if c != "group" else "left")
        for x in r.groups[:30]:
            g.add_row(x.group, f"{x.jobs:,}", f"{x.share:g}", f"{x.gpu_hours:,.0f}", _h(x.avg_jct_s),
                      _h(x.avg_queue_delay_s), f"{x.finish_time_fairness:.2f}")
        if len(r.groups) > 30:
            g.caption = f"first 30 of {len(r.groups)} groups"
        console.print(g)


@fleet_app.command("simulate")
def simulate_cmd(
    cluster_file: Path = CLUSTER_OPT,
    jobs_file: Path = JOBS_OPT,
    policy: str = typer.Option("fifo", "--policy", help="fifo, easy, sjf, las, fairshare, hetero (see `fleet policies`)"),
    fmt: str = FORMAT_OPT,
    synthetic: int = SYNTH_OPT,
    load: float = LOAD_OPT,
    seed: int = SEED_OPT,
    limit: int = LIMIT_OPT,
    failure_rate: float = FAIL_OPT,
    preemption_cost: float = PREEMPT_OPT,
    depth: int = DEPTH_OPT,
    plot: Path = typer.Option(None, "--plot", help="write utilization and queue length over time: .html (offline) or .png"),
    progress: bool = PROGRESS_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Simulate one policy on a cluster and a workload (event-driven)."""
    from flopwise.fleet.policies import make_policy
    from flopwise.fleet.simulator import simulate

    pol = make_policy(policy)
    cluster, jobs = _setup(cluster_file, jobs_file, fmt, synthetic, load, seed, limit, failure_rate, preemption_cost, depth)
    run = simulate(cluster, jobs, pol, progress=_progress(progress, json_out))
    if plot is not None:
        from flopwise.fleet.plot import write_plot

        write_plot(run, plot)
    if json_out:
        print_json(run.result)
        return
    print_result(run.result)
    if plot is not None:
        console.print(f"plot written to {plot}")


@fleet_app.command("compare")
def compare_cmd(
    cluster_file: Path = CLUSTER_OPT,
    jobs_file: Path = JOBS_OPT,
    policies: str = typer.Option("fifo,easy,sjf,las,fairshare,hetero", "--policies", help="comma-separated policy names"),
    fmt: str = FORMAT_OPT,
    synthetic: int = SYNTH_OPT,
    load: float = LOAD_OPT,
    seed: int = SEED_OPT,
    limit: int = LIMIT_OPT,
    failure_rate: float = FAIL_OPT,
    preemption_cost: float = PREEMPT_OPT,
    depth: int = DEPTH_OPT,
    progress: bool = PROGRESS_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Run several policies on the same cluster and workload, one row each."""
    from flopwise.fleet.policies import make_policy
    from flopwise.fleet.simulator import simulate

    names = [p.strip().lower() for p in policies.split(",") if p.strip()]
    if not names:
        raise FlopwiseError("--policies is empty; accepted: fifo, easy, sjf, las, fairshare, hetero")
    for n in names:
        if names.count(n) > 1:
            raise FlopwiseError(f"--policies: policy '{n}' is listed twice; give each policy once")
    pols = [make_policy(p) for p in names]
    cluster, jobs = _setup(cluster_file, jobs_file, fmt, synthetic, load, seed, limit, failure_rate, preemption_cost, depth)
    results = []
    for pol in pols:
        r = simulate(cluster, jobs, pol, progress=_progress(progress, json_out), record_timeline=False).result
        results.append(r)
    if json_out:
        print_json(results)
        return
    t = Table(title=f"{cluster.name}: {len(jobs):,} jobs on {cluster.total_gpus:,} GPUs; times in hours",
              box=box.SIMPLE_HEAD, pad_edge=False)
    for c in ("policy", "JCT\navg", "JCT\np99", "wait\navg", "wait\np99", "util", "frag", "rho\nmax", "pre-\nempt"):
        t.add_column(c, justify="left" if c == "policy" else "right", no_wrap=True)
    for r in results:
        t.add_row(r.policy, _h(r.avg_jct_s), _h(r.p99_jct_s), _h(r.avg_queue_delay_s), _h(r.p99_queue_delay_s),
                  f"{100 * r.utilization:.0f}%", f"{100 * r.fragmented_gpu_fraction:.1f}%", f"{r.fairness_worst_rho:.2f}",
                  f"{r.preemptions:,}")
    t.caption = "rho max: worst group's finish-time fairness (JCT vs alone on its share); frag: GPU-time idle but unusable"
    console.print(t)


@fleet_app.command("generate")
def generate_cmd(
    cluster_file: Path = CLUSTER_OPT,
    n_jobs: int = typer.Option(1000, "--jobs", help="number of jobs"),
    out: Path = typer.Option(..., "--out", help="CSV file to write (flopwise trace format)"),
    load: float = LOAD_OPT,
    seed: int = SEED_OPT,
    diurnal: float = typer.Option(0.3, "--diurnal", help="amplitude of the day/night swing of the arrival rate, in [0, 1)"),
    named_fraction: float = typer.Option(0.5, "--named-fraction", help="fraction of jobs naming a catalog model (planner speedups)"),
    json_out: bool = JSON_OPT,
) -> None:
    """Write a synthetic workload (documented distributions, see docs/fleet.md) for a cluster."""
    from flopwise.fleet.cluster import load_cluster
    from flopwise.fleet.synthetic import generate
    from flopwise.fleet.traces import write_trace

    if n_jobs <= 0:
        raise FlopwiseError(f"--jobs must be a positive number of jobs, got {n_jobs}")
    _check_load(load)
    _check_seed(seed)
    if not 0 <= diurnal < 1:
        raise FlopwiseError(f"--diurnal must be in [0, 1) (amplitude of the day/night swing), got {diurnal:g}")
    if not 0 <= named_fraction <= 1:
        raise FlopwiseError(f"--named-fraction must be in [0, 1], got {named_fraction:g}")
    cluster = load_cluster(cluster_file)
    jobs = generate(cluster, jobs=n_jobs, load=load, seed=seed, diurnal_amplitude=diurnal, named_fraction=named_fraction)
    write_trace(jobs, out)
    span_h = (jobs[-1].submit_s - jobs[0].submit_s) / 3600
    gpu_h = sum(j.gpus * j.duration_s for j in jobs) / 3600
    summary = {"file": str(out), "jobs": len(jobs), "span_h": span_h, "gpu_hours": gpu_h, "load": load, "seed": seed}
    if json_out:
        print_json(summary)
        return
    console.print(f"wrote {len(jobs):,} jobs over {span_h:,.1f} h ({gpu_h:,.0f} GPU-hours on the first pool) to {out}")


@fleet_app.command("policies")
def policies_cmd(json_out: bool = JSON_OPT) -> None:
    """List the scheduling policies."""
    from flopwise.fleet.policies import policy_classes

    rows = [{"name": n, "summary": c.summary} for n, c in policy_classes().items()]
    if json_out:
        print_json(rows)
        return
    t = Table(title="fleet policies")
    t.add_column("name")
    t.add_column("what it does")
    for r in rows:
        t.add_row(r["name"], r["summary"])
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(fleet_app, name="fleet")
