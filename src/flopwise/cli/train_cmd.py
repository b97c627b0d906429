"""`flopwise train`: FLOPs, parallel layout, memory, step time, days and cost of a training run."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from flopwise.catalog.models import resolve_model
from flopwise.catalog.systems import make_cluster
from flopwise.cli.common import JSON_OPT, console, parse_number, positive, print_json
from flopwise.errors import FlopwiseError
from flopwise.estimate.training import TrainingJob
from flopwise.plan.training import TrainingEstimate, make_job, run_training
from flopwise.report.format import duration, gib, pct, si, usd

def build_job(model: str, gpu: str | None, system: str | None, cluster_file: Path | None, gpus: int,
              global_batch: int | None, seq_len: int | None, precision: str, optimizer: str = "adam",
              gpus_per_node: int | None = None, nvlink: float | None = None, network: float | None = None,
              tokens: float | None = None) -> TrainingJob:
    """A checked TrainingJob from the command's arguments (model id or path, accelerator or system)."""
    cluster = make_cluster(gpu, system, cluster_file, gpus_per_node, nvlink, network)
    return make_job(resolve_model(model), cluster, gpus, global_batch, seq_len, precision, optimizer, tokens)


def print_training(est: TrainingEstimate) -> None:
    head = Table(title=f"train {est.model} on {est.gpus} x {est.accelerator} ({est.cluster})", show_header=False)
    head.add_column("", style="bold")
    head.add_column("")
    f = est.flops
    head.add_row("tokens", f"{si(est.tokens)} at seq {est.seq_len}, global batch {est.global_batch} seqs ({si(est.global_batch * est.seq_len)} tokens)")
    head.add_row("flops_total", f"{f.flops_total:.3e} = 6·N·D {f.dense_flops:.3e} + LM head {f.lm_head_flops:.3e} + attention {f.attention_flops:.3e}")
    if est.plan is not None:
        head.add_row("plan", est.plan.label())
    else:
        head.add_row("plan", f"none: time from an assumed MFU of {pct(est.mfu)} (--mfu)")
    head.add_row("throughput", f"{si(est.tokens_per_s)} tokens/s ({est.tokens_per_s_per_gpu:,.0f} per GPU), {est.tflops_per_gpu:.0f} TFLOP/s per GPU")
    head.add_row("MFU / HFU", f"{pct(est.mfu)} / {pct(est.hfu)}")
    head.add_row("time", f"{est.days:,.1f} days ({est.gpu_hours:,.0f} GPU-hours)")
    if est.cost_usd is not None:
        head.add_row("cost", f"{usd(est.cost_usd)} at ${est.price_per_gpu_hour:.2f}/GPU-hour")
    rel = est.reliability
    if rel is not None:
        line = (f"{est.expected_days:,.1f} days, {est.expected_gpu_hours:,.0f} GPU-hours"
                + (f", {usd(est.expected_cost_usd)}" if est.expected_cost_usd is not None else "")
                + f" (goodput {pct(rel.goodput)})")
        head.add_row("with failures", line)
        ckpt = f"every {duration(rel.optimal_interval_s)}" + (f" ({rel.checkpoint_every_steps} steps)" if rel.checkpoint_every_steps else "")
        head.add_row("interruptions", f"{rel.expected_interruptions:,.1f} expected (one every {duration(rel.mtbf_job_s)}); "
                     f"checkpoint {gib(rel.checkpoint_bytes)} {ckpt}, {duration(rel.checkpoint_blocking_s)} each")
        if rel.resubmissions:
            head.add_row("job-length limit", f"{rel.resubmissions} resubmissions, {duration(rel.queue_s)} queueing")
        if est.simulation is not None:
            sim = est.simulation
            head.add_row(f"simulated ({sim.n:,} runs)", f"p50 {sim.p50_s / 86400:,.2f} days, p90 {sim.p90_s / 86400:,.2f} days "
                         f"(analytic mean {sim.analytic_mean_s / 86400:,.2f})")
    if est.mode == "planner":
        tr = est.track_record
        head.add_row("track record", "no published runs on this hardware generation were scored: unvalidated"
                     if tr is None else tr.describe())
    console.print(head)

    mem = est.memory
    mt = Table(title=f"memory per GPU: {gib(mem.total_bytes)} of {gib(mem.capacity_bytes)}" + ("" if mem.fits else "  [red]DOES NOT FIT[/red]"), min_width=48)
    mt.add_column("component")
    mt.add_column("GiB", justify="right")
    mt.add_column("share", justify="right")
    for k in ("weights", "gradients", "optimizer", "activations", "buffers", "framework"):
        v = getattr(mem, f"{k}_bytes")
        mt.add_row(k, f"{v / 2**30:,.2f}", pct(v / mem.total_bytes) if mem.total_bytes else "-")
    console.print(mt)

    if est.step_time is not None:
        st = est.step_time
        tt = Table(title=f"step time: {duration(st.step_s)}", min_width=48)
        tt.add_column("component")
        tt.add_column("seconds", justify="right")
        tt.add_column("share", justify="right")
        for k, v in st.model_dump().items():
            if k == "step_s" or v <= 0:
                continue
            tt.add_row(k.removesuffix("_s").replace("_", " "), f"{v:.3f}", pct(v / st.step_s))
        console.print(tt)
    if est.top_plans:
        pt = Table(title=f"top plans ({est.plans_evaluated:,} evaluated, {est.plans_valid:,} valid, search {est.search_s * 1e3:.0f} ms)")
        for c in ("#", "plan", "step", "MFU", "memory GiB"):
            pt.add_column(c)
        for i, p in enumerate(est.top_plans, 1):
            pt.add_row(str(i), p.plan, duration(p.step_s), pct(p.mfu), f"{p.memory_gib:.1f}")
        console.print(pt)


def train(
    model: str = typer.Argument(..., help="catalog id, or path to a config.json / model YAML"),
    tokens: str = typer.Option(..., "--tokens", help="training tokens, e.g. 300e9 or 2T"),
    gpu: str = typer.Option(None, "--gpu", help="accelerator id (see `flopwise gpu list`)"),
    gpus: int = typer.Option(..., "--gpus", help="number of accelerators"),
    system: str = typer.Option(None, "--system", help="bundled system: dgx-a100, dgx-h100, hgx-h200, pcie-4090x8, ..."),
    cluster_file: Path = typer.Option(None, "--cluster", help="YAML cluster file (accelerator, gpus_per_node, nvlink_gb_per_s, network_gbit_per_s)"),
    global_batch: int = typer.Option(None, "--global-batch", help="sequences per optimizer step (default ~4M tokens, ~1k tokens per GPU beyond 4096 GPUs)"),
    seq_len: int = typer.Option(None, "--seq-len", help="training sequence length (default: the model's context, at most 8192)"),
    precision: str = typer.Option("bf16", "--precision", help="bf16, fp16, fp8 or fp32"),
    optimizer: str = typer.Option("adam", "--optimizer", help="adam, adamw, adam-8bit, sgd, adafactor, lion"),
    mfu: float = typer.Option(None, "--mfu", help="skip the planner: assume this MFU (what-if arithmetic)"),
    plan: str = typer.Option(None, "--plan", help="evaluate one plan, e.g. tp=8,pp=16,mb=1,sharding=zero1,recompute=full"),
    price: float = typer.Option(None, "--price-per-gpu-hour", help="$ per GPU-hour (default: cheapest catalog on-demand price)"),
    gpus_per_node: int = typer.Option(None, "--gpus-per-node"),
    nvlink_gb_per_s: float = typer.Option(None, "--nvlink-gb-per-s", help="intra-node bandwidth per GPU, one direction"),
    network_gbit_per_s: float = typer.Option(None, "--network-gbit-per-s", help="network per GPU, one direction"),
    top: int = typer.Option(5, "--top", min=1, help="how many ranked plans to show"),
    objective: str = typer.Option("time", "--objective", help="time: fastest plan on --gpus; cost: cheapest per token using up to --gpus"),
    max_days: float = typer.Option(None, "--max-days", help="with --objective cost: finish within this many days"),
    no_failures: bool = typer.Option(False, "--no-failures", help="leave out interruptions, checkpoints and restarts"),
    failure_model: Path = typer.Option(None, "--failure-model", help="YAML failure rates (default: Llama 3 paper, 16k H100)"),
    async_checkpoint: bool = typer.Option(False, "--async-checkpoint", help="checkpoints copied to host memory, written in the background"),
    max_job_hours: float = typer.Option(None, "--max-job-hours", help="job-length limit of the cluster (resubmissions are counted)"),
    simulate_runs: int = typer.Option(0, "--simulate", help="Monte Carlo runs of failure times (p50/p90 completion)"),
    export: str = typer.Option(None, "--export", help="write launch files for the plan: megatron, torchtitan, deepspeed, slurm, skypilot"),
    out: Path = typer.Option(Path("flopwise-export"), "--out", help="directory for --export files"),
    launcher: str = typer.Option(None, "--launcher", help="with --export slurm|skypilot: megatron, torchtitan or deepspeed"),
    partition: str = typer.Option(None, "--partition", help="with --export slurm: Slurm partition"),
    account: str = typer.Option(None, "--account", help="with --export slurm: Slurm account"),
    json_out: bool = JSON_OPT,
) -> None:
    """Plan a training run: search the parallel layout, break down memory and step time, give days and cost."""
    n_tokens = parse_number(tokens, "--tokens")
    positive(price, "--price-per-gpu-hour")
    job = build_job(model, gpu, system, cluster_file, gpus, global_batch, seq_len, precision, optimizer,
                    gpus_per_node, nvlink_gb_per_s, network_gbit_per_s, n_tokens)
    from flopwise.catalog.prices import fill_default_prices

    price, _, price_note = fill_default_prices(job.cluster.accelerator.id, price)
    fm = None
    if not no_failures:
        from flopwise.catalog.failures import load_failure_model

        fm = load_failure_model(failure_model)
    est, _ = run_training(job, gpus, n_tokens, price, mfu=mfu, plan=plan, objective=objective, max_days=max_days,
                          top=top, failure_model=fm, async_checkpoint=async_checkpoint, max_job_hours=max_job_hours,
                          simulate_runs=simulate_runs, progress=not json_out and simulate_runs >= 2000)
    exported: list[str] = []
    native = None
    if export:
        from flopwise.export import export_plan, native_plan

        if est.plan is None:
            raise FlopwiseError("--export needs a plan; drop --mfu")
        opts = {k: v for k, v in dict(launcher=launcher, partition=partition, account=account,
                                         max_job_hours=max_job_hours).items() if v is not None}
        exported = [str(p) for p in export_plan(export, est, job, out, **opts)]
        native = native_plan(export, est.plan, job, launcher).label()
    if json_out:
        data = est.model_dump()
        data["price_source"] = price_note
        if export:
            data["export"] = {"target": export, "files": exported, "plan": native}
        print_json(data)
        return
    print_training(est)
    if exported:
        console.print(f"[bold]exported[/bold] ({export}, plan {native}): " + ", ".join(exported))
    if price_note:
        console.print(f"[dim]price: {price_note}[/dim]")


def register(app: typer.Typer) -> None:
    app.command("train")(train)
