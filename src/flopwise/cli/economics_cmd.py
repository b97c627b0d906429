"""`flopwise compare`, `fit`, `budget`, `tco`, `energy`: which cloud and accelerator, will it fit, what a
budget buys, buy vs rent, and the energy and carbon of a run. Every cost line can show its assumptions
(--explain); every price shown carries the date of its data."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from flopwise.cli.common import JSON_OPT, console, parse_number, positive, print_json
from flopwise.errors import FlopwiseError
from flopwise.report.format import duration, params as fmt_params, pct, si, usd

EXPLAIN_OPT = typer.Option(False, "--explain", help="print the assumptions behind every cost line")
PRICES_OPT = typer.Option(None, "--prices", help="CSV of prices (cloud, accelerator, usd_per_gpu_hour[, spot_usd_per_gpu_hour, region, date]) or a SkyPilot vms.csv")
SKY_OPT = typer.Option(None, "--skypilot/--no-skypilot", help="read SkyPilot's cached catalog (~/.sky/catalogs); default: when present")


def _wide():
    """A console wide enough for the comparison tables when output is piped (Rich assumes 80 columns)."""
    from rich.console import Console

    return console if console.is_terminal else Console(width=180)


def _explain(title: str, lines: list[str]) -> None:
    console.print(f"[bold]{title}[/bold]")
    for line in lines:
        console.print(f"  - {escape(line)}", highlight=False)


def _need(value, what: str) -> None:
    if value is None:
        raise FlopwiseError(f"missing {what}")


def _csv_list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise FlopwiseError(f"expected a comma-separated list, got '{text}'")
    return items


def _int_tokens(text: str, name: str) -> int:
    value = parse_number(text, name)
    if value != int(value):
        raise FlopwiseError(f"{name} must be a whole number of tokens, got '{text}'")
    return int(value)


def _catalog(prices: Path | None, skypilot: bool | None):
    from flopwise.catalog.prices import price_catalog

    if prices is not None and skypilot:
        raise FlopwiseError("give either --prices FILE or --skypilot, not both")
    return price_catalog(prices, skypilot)


def _days(d: float) -> str:
    if d < 2:
        return f"{d * 24:,.1f} h"
    return f"{d:,.1f}"


# ---- compare --------------------------------------------------------------------------------------------

def compare(
    model: str = typer.Argument(..., help="catalog id, or path to a config.json / model YAML"),
    tokens: str = typer.Option(None, "--tokens", help="training tokens, e.g. 2e12 or 2T"),
    serve: bool = typer.Option(False, "--serve", help="compare serving instead of training"),
    input_tokens: str = typer.Option("2048", "--input", help="--serve: prompt tokens per request"),
    output_tokens: str = typer.Option("256", "--output", help="--serve: generated tokens per request"),
    rate: str = typer.Option(None, "--rate", help="--serve: request rate to size replicas for, e.g. 20/s, 50k/day"),
    ttft_p99: str = typer.Option(None, "--ttft-p99", help="--serve: target time to first token, p99 (e.g. 1s)"),
    tpot: str = typer.Option(None, "--tpot", help="--serve: target time per output token (e.g. 50ms)"),
    weights: str = typer.Option("bf16", "--weights", help="--serve: weight precision (bf16, fp8, int8, int4)"),
    kv: str = typer.Option("bf16", "--kv", help="--serve: KV-cache precision"),
    clouds: str = typer.Option(None, "--clouds", help="only these clouds, e.g. aws,gcp,lambda"),
    gpu: str = typer.Option(None, "--gpu", help="only these accelerators (comma-separated ids)"),
    max_days: float = typer.Option(None, "--max-days", help="drop runs longer than this (training)"),
    max_usd: float = typer.Option(None, "--max-usd", help="drop runs costing more (training: $ total; --serve: $ per hour)"),
    max_gpus: int = typer.Option(None, "--max-gpus", help="largest GPU count to consider (training default 4096)"),
    spot: bool = typer.Option(True, "--spot/--no-spot", help="include spot rows (with their preemption overhead)"),
    spot_rate: float = typer.Option(None, "--spot-interruptions-per-month", help="share of spot nodes preempted per month (default 0.20)"),
    spot_restart_min: float = typer.Option(None, "--spot-restart-min", help="minutes lost per preemption besides rework (default 30)"),
    seq_len: int = typer.Option(None, "--seq-len", help="training sequence length (default: the model's context, at most 8192)"),
    global_batch: int = typer.Option(None, "--global-batch", help="sequences per step (default ~4M tokens, ~1k tokens per GPU beyond 4096 GPUs)"),
    precision: str = typer.Option("bf16", "--precision", help="training precision: bf16, fp16, fp8"),
    optimizer: str = typer.Option("adam", "--optimizer"),
    sort: str = typer.Option("cost", "--sort", help="cost, time or usd-per-m-tokens"),
    top: int = typer.Option(25, "--top", min=1, help="rows to show"),
    show_all: bool = typer.Option(False, "--all", help="show every row"),
    all_counts: bool = typer.Option(False, "--all-counts", help="show every GPU count, not only the best per cloud, accelerator and market"),
    prices: Path = PRICES_OPT,
    skypilot: bool = SKY_OPT,
    explain: bool = EXPLAIN_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Rank every (cloud, accelerator, GPU count) that can train (or serve) MODEL: time, cost, $/M tokens,
    on demand and spot, with the Pareto front of cost vs time and the date of every price."""
    from flopwise.catalog.models import resolve_model
    from flopwise.estimate.economics import DEFAULT_SPOT_INTERRUPTIONS_PER_NODE_MONTH, DEFAULT_SPOT_RESTART_S
    from flopwise.plan.compare import DEFAULT_MAX_GPUS, compare_serving, compare_training

    positive(max_days, "--max-days")
    positive(max_usd, "--max-usd")
    if max_gpus is not None and max_gpus <= 0:
        raise FlopwiseError(f"--max-gpus must be a positive integer, got {max_gpus}")
    if top <= 0:
        raise FlopwiseError(f"--top must be positive, got {top}")
    if spot_rate is not None and not (0 <= spot_rate <= 30):
        raise FlopwiseError(f"--spot-interruptions-per-month must be between 0 and 30, got {spot_rate:g}")
    positive(spot_restart_min, "--spot-restart-min")
    s_rate = DEFAULT_SPOT_INTERRUPTIONS_PER_NODE_MONTH if spot_rate is None else spot_rate
    s_restart = DEFAULT_SPOT_RESTART_S if spot_restart_min is None else spot_restart_min * 60
    if serve and tokens is not None:
        raise FlopwiseError("give --tokens T to compare training or --serve to compare serving, not both")
    if not serve and tokens is None:
        raise FlopwiseError("give --tokens T to compare training, or --serve to compare serving")
    spec = resolve_model(model)
    cat = _catalog(prices, skypilot)
    if serve:
        from flopwise.cli.serve_cmd import parse_duration, parse_rate

        lin, lout = _int_tokens(input_tokens, "--input"), _int_tokens(output_tokens, "--output")
        res = compare_serving(
            spec, lin, lout, cat, weights, kv, parse_duration(ttft_p99, "--ttft-p99") if ttft_p99 else None,
            parse_duration(tpot, "--tpot") if tpot else None, parse_rate(rate) if rate else None, max_gpus,
            _csv_list(clouds), _csv_list(gpu), max_usd, None, spot, s_rate, s_restart, sort)
    else:
        n_tokens = parse_number(tokens, "--tokens")
        if precision not in ("bf16", "fp16", "fp8", "fp32"):
            raise FlopwiseError(f"unknown precision '{precision}'; accepted: bf16, fp16, fp8, fp32")
        from flopwise.estimate.memory import optimizer_state_bytes

        optimizer_state_bytes(optimizer)
        if seq_len is not None and seq_len <= 0:
            raise FlopwiseError(f"--seq-len must be positive, got {seq_len}")
        if global_batch is not None and global_batch <= 0:
            raise FlopwiseError(f"--global-batch must be positive, got {global_batch}")
        res = compare_training(spec, n_tokens, cat, seq_len, global_batch, precision, optimizer, _csv_list(clouds),
                               _csv_list(gpu), max_gpus or DEFAULT_MAX_GPUS, max_days, max_usd, spot, s_rate, s_restart, sort,
                               workers=None)
    if json_out:
        print_json(res)
        return
    _print_compare(res, None if show_all else top, explain, all_counts)


def _flag_text(flags: list[str]) -> str:
    short = {"suspect-price": "?", "gpu-only": "gpu-only", "older-data": "old", "multi-node-spot": "mn-spot",
             "preemptible": "pre"}
    return " ".join(short.get(f, f) for f in flags)


def _print_compare(res, top: int | None, explain: bool, all_counts: bool = False) -> None:
    serve = res.mode == "serve"
    what = (f"serve {res.model}" if serve else f"train {res.model} on {si(res.tokens)} tokens")
    rows = res.rows
    if not all_counts:  # the best GPU count (by the sort key) per cloud, accelerator and market
        seen, rows = set(), []
        for r in res.rows:
            if (r.cloud, r.accelerator, r.market) not in seen:
                seen.add((r.cloud, r.accelerator, r.market))
                rows.append(r)
    shown = rows if top is None else rows[:top]
    per = "" if all_counts else ", best count of each shown (--all-counts for all)"
    t = Table(title=f"compare: {what} — {len(res.rows)} options ({res.total_rows} before filters{per}), "
                    f"{res.plans_run} plans, {res.elapsed_s:.1f} s")
    out = _wide()
    cols = ["#", "cloud", "accelerator", "GPUs", "market", "$/GPU-h", "prices of"]
    cols += (["latency", "TPOT", "$/hour", "$/M tok", "layout"] if serve else ["days", "GPU-hours", "cost", "$/M tok", "MFU"])
    cols += ["front", "notes"]
    for c in cols:
        t.add_column(c, justify="right" if c in ("#", "GPUs", "$/GPU-h", "days", "GPU-hours", "cost", "$/M tok", "MFU",
                                                   "latency", "TPOT", "$/hour") else "left")
    for i, r in enumerate(shown, 1):
        market = r.market + (f" +{r.spot_overhead:.1%}" if r.spot_overhead and r.spot_overhead >= 5e-4 else "")
        base = [str(i), r.cloud, r.accelerator, f"{r.gpus:,}", market, f"{r.usd_per_gpu_hour:.2f}", r.price_date]
        if serve:
            base += [f"{r.latency_s:.2f} s", f"{r.tpot_s * 1e3:.0f} ms", usd(r.cost_usd), f"{r.usd_per_m_tokens:.3f}", r.plan]
        else:
            base += [_days(r.days), f"{r.gpu_hours:,.0f}", usd(r.cost_usd), f"{r.usd_per_m_tokens:.3f}",
                     pct(r.mfu) if r.mfu is not None else "-"]
        base += ["*" if r.pareto else "", _flag_text(r.flags)]
        t.add_row(*base)
    out.print(t)
    if len(shown) < len(rows):
        console.print(f"[dim]{len(rows) - len(shown)} more rows: --all, or --top N[/dim]")
    if res.pareto:
        pt = Table(title="Pareto front: nothing else is both cheaper and faster" + (" (lower latency)" if serve else ""))
        for c in ("cloud", "accelerator", "GPUs", "market", "latency" if serve else "days",
                  "$/M tok" if serve else "cost", "prices of", "plan"):
            pt.add_column(c)
        for r in res.pareto:
            pt.add_row(r.cloud, r.accelerator, f"{r.gpus:,}", r.market,
                       f"{r.latency_s:.2f} s" if serve else _days(r.days),
                       f"{r.usd_per_m_tokens:.3f}" if serve else usd(r.cost_usd), r.price_date, r.plan)
        out.print(pt)
    elif not res.rows:
        console.print("[yellow]no option passes the filters[/yellow]")
    console.print("[dim]prices: " + escape("; ".join(res.price_sources)) + "[/dim]", highlight=False)
    console.print("[dim]notes: ? suspect catalog price (GCP two-level regional pricing), gpu-only = host VM not included, "
                  "old = older catalog snapshot, mn-spot = multi-node job on spot, +x% = expected preemption overhead[/dim]")
    if res.skipped:
        console.print("[dim]no row for: " + escape("; ".join(f"{k} ({v})" for k, v in sorted(res.skipped.items()))) + "[/dim]",
                      highlight=False)
    if explain:
        _explain("assumptions", res.assumptions)
    else:
        console.print("[dim]--explain for the assumptions behind every cost[/dim]")


# ---- fit ----------------------------------------------------------------------------------------------------

def fit(
    model: str = typer.Argument(..., help="catalog id, or path to a config.json / model YAML"),
    gpu: str = typer.Option(None, "--gpu", help="accelerator id (see `flopwise gpu list`)"),
    gpus: int = typer.Option(1, "--gpus", help="how many of them"),
    seq_len: int = typer.Option(None, "--seq-len", help="fine-tuning sequence length (default 2048 or the model's maximum)"),
    micro_batch: int = typer.Option(1, "--micro-batch", help="sequences per GPU per step when fine-tuning"),
    lora_rank: int = typer.Option(16, "--lora-rank", help="LoRA/QLoRA adapter rank"),
    context: int = typer.Option(None, "--context", help="serving context to count the batch at (default 4096 or the model's maximum)"),
    optimizer: str = typer.Option("adam", "--optimizer", help="full training optimizer: adam, adam-8bit, sgd, adafactor, lion"),
    explain: bool = EXPLAIN_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Can MODEL be pre-trained, fully fine-tuned, LoRA / QLoRA fine-tuned or served on these GPUs? With the memory breakdown."""
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.catalog.models import resolve_model
    from flopwise.catalog.systems import default_cluster
    from flopwise.estimate.memory import optimizer_state_bytes
    from flopwise.plan.fit import fit as run_fit

    _need(gpu, "--gpu ID (see `flopwise gpu list`)")
    spec = resolve_model(model)
    acc = get_accelerator(gpu)
    if not acc.usable:
        raise FlopwiseError(f"{acc.id} is listed for reference only; its rates are not comparable")
    if gpus <= 0:
        raise FlopwiseError(f"--gpus must be a positive integer, got {gpus}")
    optimizer_state_bytes(optimizer)
    res = run_fit(spec, default_cluster(acc), gpus, seq_len, micro_batch, lora_rank, context, optimizer)
    if json_out:
        print_json(res)
        return
    t = Table(title=f"fit {res.model} ({fmt_params(res.params_total)} params) on {res.gpus} x {res.accelerator} "
                    f"({res.capacity_bytes / 2**30:.0f} GiB each)")
    for c in ("task", "fits", "GiB/GPU", "weights", "grads", "optim", "adapters", "activ.", "KV cache", "other", "how / why"):
        t.add_column(c, justify="left" if c in ("task", "fits", "how / why") else "right")
    for r in res.rows:
        m = r.memory
        fits = "[green]yes[/green]" if r.fits else "[red]no[/red]"
        if not r.fits and r.min_gpus:
            fits += f" (needs {r.min_gpus})"
        elif not r.fits:
            fits += " (not on <= 4096)"
        how = r.how
        if r.max_context is not None and r.fits:
            how = f"max context {r.max_context:,}; {r.max_batch:,} seqs of {r.context:,} tokens; {how}"
        if r.note:
            how += f" — {r.note}"

        def g(x):
            return f"{x / 2**30:,.1f}" if x else "-"
        t.add_row(r.task, fits, f"{m.total_bytes / 2**30:,.1f}", g(m.weights_bytes), g(m.gradients_bytes),
                  g(m.optimizer_bytes), g(m.adapter_bytes), g(m.activations_bytes), g(m.kv_cache_bytes),
                  g(m.buffers_bytes + m.framework_bytes), how)
    _wide().print(t)
    if explain:
        _explain("assumptions", res.assumptions)
    else:
        console.print("[dim]--explain for the assumptions; `flopwise train` for full plans and step times[/dim]")


# ---- budget ---------------------------------------------------------------------------------------------------

def budget_cmd(
    gpu: str = typer.Option(None, "--gpu", help="accelerator id"),
    usd_amount: str = typer.Option(None, "--usd", help="dollars to spend, e.g. 1000, 50k or 10M"),
    gpus: int = typer.Option(None, "--gpus", help="GPUs you have (with --days), or to spread --usd over (default: one node)"),
    days: float = typer.Option(None, "--days", help="days you have them for"),
    cloud: str = typer.Option(None, "--cloud", help="price from this cloud (default: cheapest in the catalog)"),
    price: float = typer.Option(None, "--price-per-gpu-hour", help="$ per GPU-hour (overrides the catalog)"),
    spot: bool = typer.Option(False, "--spot", help="use the spot price"),
    mfu: float = typer.Option(None, "--mfu", help="assumed MFU (default 0.40)"),
    dataset_tokens: str = typer.Option("1e9", "--dataset-tokens", help="fine-tuning dataset size in tokens"),
    epochs: float = typer.Option(1.0, "--epochs"),
    model: str = typer.Option("llama-3-8b", "--model", help="model to price serving for"),
    input_tokens: str = typer.Option("1000", "--input", help="serving: prompt tokens per request"),
    output_tokens: str = typer.Option("200", "--output", help="serving: generated tokens per request"),
    prices: Path = PRICES_OPT,
    skypilot: bool = SKY_OPT,
    explain: bool = EXPLAIN_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """What a budget buys: GPU-hours, the compute-optimal model it can pre-train, the largest model it can
    LoRA-fine-tune on a dataset, and the tokens it can serve."""
    from flopwise.plan.budget import budget

    _need(gpu, "--gpu ID (see `flopwise gpu list`)")
    positive(price, "--price-per-gpu-hour")
    cat = _catalog(prices, skypilot)
    usd_value = parse_number(usd_amount, "--usd", "1000 or 10M") if usd_amount is not None else None
    res = budget(gpu, usd_value, gpus, days, price, cloud, spot, cat, mfu, parse_number(dataset_tokens, "--dataset-tokens"),
                 epochs, model, _int_tokens(input_tokens, "--input"), _int_tokens(output_tokens, "--output"))
    if json_out:
        print_json(res)
        return
    t = Table(title=f"budget on {res.accelerator}", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    money = f"{usd(res.usd)} at ${res.usd_per_gpu_hour:.2f}/GPU-h (prices of {res.price_date})" if res.usd is not None else "no price known"
    hours = f"{res.gpu_hours:,.0f}" if res.gpu_hours >= 10 else f"{res.gpu_hours:.2g}"
    t.add_row("buys", f"{hours} GPU-hours = {duration(res.days * 86400)} on {res.gpus} GPUs; {money}")
    t.add_row("compute", f"{res.flops:.3g} FLOPs at {pct(res.mfu)} MFU")
    p = res.pretrain
    line = f"{fmt_params(p.params)} params on {si(p.tokens)} tokens (compute-optimal)"
    if p.note:
        line += f" — {p.note}"
    t.add_row("pre-train", line)
    f = res.finetune
    if f.model:
        t.add_row("fine-tune", f"{f.model} ({fmt_params(f.model_params)}) with {f.method} on {si(f.dataset_tokens)} tokens x {f.epochs:g}: "
                               f"{f.hours:,.1f} h, {f.memory_gib:,.1f} GiB/GPU (compute allows up to {fmt_params(f.compute_bound_params)})")
    else:
        t.add_row("fine-tune", f.note)
    s = res.serve
    if s.tokens is not None:
        extra = f", ${s.usd_per_m_tokens:.3f}/M tokens" if s.usd_per_m_tokens is not None else ""
        t.add_row("serve", f"{si(s.tokens)} tokens of {s.model} ({s.input_tokens} in + {s.output_tokens} out per request; "
                           f"{s.tokens_per_s_per_gpu:,.0f} tokens/s/GPU at {s.layout}{extra})")
    else:
        t.add_row("serve", s.note)
    console.print(t)
    console.print(f"[dim]price: {escape(res.price_source)}[/dim]", highlight=False)
    if explain:
        _explain("assumptions", res.assumptions)
    else:
        console.print("[dim]--explain for the assumptions[/dim]")


# ---- tco ------------------------------------------------------------------------------------------------------

def _power_inputs(acc, tdp_w, node_overhead_w, load, utilization, pue, usd_per_kwh, region, grid_g):
    from flopwise.catalog.carbon import grid_intensity, node_overhead
    from flopwise.estimate.economics import (
        DEFAULT_GRID_G_PER_KWH,
        DEFAULT_GRID_NAME,
        DEFAULT_LOAD_FRACTION,
        DEFAULT_PUE,
        DEFAULT_USD_PER_KWH,
        PowerInputs,
    )

    tdp = tdp_w if tdp_w is not None else acc.tdp_w
    if tdp is None:
        raise FlopwiseError(f"{acc.id} has no published TDP in the catalog; give --tdp-w")
    positive(tdp, "--tdp-w")
    if node_overhead_w is not None:
        if node_overhead_w < 0:
            raise FlopwiseError(f"--node-overhead-w must be non-negative, got {node_overhead_w:g}")
        ov, ov_src = node_overhead_w, "--node-overhead-w"
    else:
        o = node_overhead(acc.id)
        ov, ov_src = o.watts_per_gpu, o.source
    if region and grid_g is not None:
        raise FlopwiseError("give either --region or --grid-g-per-kwh, not both")
    if grid_g is not None:
        if grid_g < 0:
            raise FlopwiseError(f"--grid-g-per-kwh must be non-negative, got {grid_g:g}")
        g, gname = grid_g, "--grid-g-per-kwh"
    elif region:
        gi = grid_intensity(region)
        g, gname = gi.g_co2e_per_kwh, gi.describe()
    else:
        g, gname = DEFAULT_GRID_G_PER_KWH, DEFAULT_GRID_NAME
    load = DEFAULT_LOAD_FRACTION if load is None else load
    if not 0 < load <= 1:
        raise FlopwiseError(f"--load must be in (0, 1], got {load:g}")
    if utilization is not None and not 0 < utilization <= 1:
        raise FlopwiseError(f"--utilization must be in (0, 1], got {utilization:g}")
    pue = DEFAULT_PUE if pue is None else pue
    if not 1.0 <= pue <= 3.0:
        raise FlopwiseError(f"--pue must be between 1.0 and 3.0, got {pue:g}")
    kwh = DEFAULT_USD_PER_KWH if usd_per_kwh is None else usd_per_kwh
    if kwh < 0:
        raise FlopwiseError(f"--usd-per-kwh must be non-negative, got {kwh:g}")
    return PowerInputs(tdp_w=tdp, node_overhead_w=ov, load_fraction=load, utilization=utilization or 1.0, pue=pue,
                       usd_per_kwh=kwh, grid_g_per_kwh=g, grid_name=gname, overhead_source=ov_src)


def tco(
    gpu: str = typer.Option(None, "--gpu", help="accelerator id"),
    purchase_usd: float = typer.Option(None, "--purchase-usd", help="price of one accelerator (default: catalog street-price midpoint)"),
    server_usd: float = typer.Option(None, "--server-usd-per-gpu", help="server/network capex per GPU (default: 20% of the GPU price)"),
    years: float = typer.Option(3.0, "--years", help="depreciation years"),
    residual: float = typer.Option(0.0, "--residual", help="resale value at the end, as a fraction of capex"),
    utilization: float = typer.Option(0.8, "--utilization", help="share of hours the GPUs are busy"),
    load: float = typer.Option(None, "--load", help="share of TDP drawn while busy (default 0.8)"),
    tdp_w: float = typer.Option(None, "--tdp-w", help="accelerator power (default: catalog TDP)"),
    node_overhead_w: float = typer.Option(None, "--node-overhead-w", help="server power besides the GPU, per GPU"),
    pue: float = typer.Option(None, "--pue", help="facility power / IT power (default 1.2)"),
    usd_per_kwh: float = typer.Option(None, "--usd-per-kwh", help="electricity price (default 0.08)"),
    colo: float = typer.Option(0.0, "--colo-usd-per-kw-month", help="colocation rent per kW of IT capacity"),
    staff: float = typer.Option(0.0, "--staff-usd-per-year", help="operations staff for the cluster"),
    cluster_gpus: int = typer.Option(8, "--gpus", help="GPUs in the cluster (shares the staff cost)"),
    rent: float = typer.Option(None, "--rent-per-gpu-hour", help="rental price to compare with (default: cheapest catalog on-demand)"),
    cloud: str = typer.Option(None, "--cloud", help="rental price from this cloud"),
    prices: Path = PRICES_OPT,
    skypilot: bool = SKY_OPT,
    explain: bool = EXPLAIN_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Buy vs rent: owned $/GPU-hour (capital, power, space, staff) and the utilization at which buying wins."""
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.estimate.economics import TcoInputs, tco as run_tco

    _need(gpu, "--gpu ID (see `flopwise gpu list`)")
    acc = get_accelerator(gpu)
    for v, n in ((purchase_usd, "--purchase-usd"), (years, "--years"), (rent, "--rent-per-gpu-hour")):
        positive(v, n)
    for v, n in ((server_usd, "--server-usd-per-gpu"), (colo, "--colo-usd-per-kw-month"), (staff, "--staff-usd-per-year")):
        if v is not None and v < 0:
            raise FlopwiseError(f"{n} must be non-negative, got {v:g}")
    if not 0 <= residual < 1:
        raise FlopwiseError(f"--residual must be in [0, 1), got {residual:g}")
    if cluster_gpus <= 0:
        raise FlopwiseError(f"--gpus must be a positive integer, got {cluster_gpus}")
    price = purchase_usd if purchase_usd is not None else acc.price_usd
    if price is None:
        raise FlopwiseError(f"{acc.id} has no purchase price in the catalog (cloud-only part); give --purchase-usd")
    src = "--purchase-usd" if purchase_usd is not None else f"catalog street-price midpoint, {acc.source or 'accelerators.yaml'} (E)"
    power = _power_inputs(acc, tdp_w, node_overhead_w, load, utilization, pue, usd_per_kwh, None, None)
    rent_src = "--rent-per-gpu-hour"
    if rent is None:
        found = _catalog(prices, skypilot).cheapest(acc.id, cloud)
        if found is not None:
            rent, rent_src = found.usd_per_gpu_hour, found.describe()
        elif cloud:
            raise FlopwiseError(f"no catalog price for {acc.id} on {cloud}; give --rent-per-gpu-hour")
    inp = TcoInputs(accelerator=acc.id, gpu_price_usd=price, price_source=src, server_usd_per_gpu=server_usd,
                    depreciation_years=years, residual_fraction=residual, power=power, colo_usd_per_kw_month=colo,
                    staff_usd_per_year=staff, cluster_gpus=cluster_gpus, rent_usd_per_gpu_hour=rent, rent_source=rent_src)
    res = run_tco(inp, utilization)
    if json_out:
        print_json(res)
        return
    t = Table(title=f"owning {acc.id}: ${res.capex_per_gpu_usd:,.0f} per GPU over {years:g} years at {pct(utilization)} utilization")
    for c in ("part", "$/GPU-year", "$/busy GPU-hour"):
        t.add_column(c, justify="left" if c == "part" else "right")
    busy = 8760 * utilization
    for name, v in (("capital (depreciation)", res.capital_usd_per_year), ("electricity", res.electricity_usd_per_year),
                    ("colocation", res.colo_usd_per_year), ("staff", res.staff_usd_per_year)):
        t.add_row(name, f"{v:,.0f}", f"{v / busy:.3f}")
    t.add_row("[bold]owned total[/bold]", f"[bold]{res.total_usd_per_year:,.0f}[/bold]", f"[bold]{res.owned_usd_per_gpu_hour:.2f}[/bold]")
    if res.rent_usd_per_gpu_hour is not None:
        t.add_row("rent", f"{res.rent_usd_per_gpu_hour * busy:,.0f}", f"{res.rent_usd_per_gpu_hour:.2f}")
    console.print(t)
    console.print(escape(res.breakeven_note), highlight=False)
    if res.rent_usd_per_gpu_hour is not None:
        console.print(f"[dim]rent: {escape(rent_src)}[/dim]", highlight=False)
    if explain:
        _explain("assumptions", res.assumptions)
    else:
        console.print("[dim]--explain for the assumptions[/dim]")


# ---- energy ---------------------------------------------------------------------------------------------------

def energy_cmd(
    gpu: str = typer.Option(None, "--gpu", help="accelerator id"),
    gpus: int = typer.Option(None, "--gpus", help="number of accelerators"),
    model: str = typer.Option(None, "--model", help="with --tokens: plan the training run to get its hours"),
    tokens: str = typer.Option(None, "--tokens", help="training tokens (with --model)"),
    days: float = typer.Option(None, "--days", help="or: how long they run"),
    years: float = typer.Option(None, "--years", help="or: years of running (e.g. a year of serving)"),
    utilization: float = typer.Option(None, "--utilization", help="share of the time busy (default 1 for a run)"),
    load: float = typer.Option(None, "--load", help="share of TDP drawn while busy (default 0.8)"),
    tdp_w: float = typer.Option(None, "--tdp-w"),
    node_overhead_w: float = typer.Option(None, "--node-overhead-w"),
    pue: float = typer.Option(None, "--pue", help="default 1.2"),
    usd_per_kwh: float = typer.Option(None, "--usd-per-kwh", help="default 0.08"),
    region: str = typer.Option(None, "--region", help="grid region for carbon: us-central1, eu-west-1, france, world ..."),
    grid_g: float = typer.Option(None, "--grid-g-per-kwh", help="grid carbon intensity instead of a region"),
    explain: bool = EXPLAIN_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Energy (kWh), electricity cost, CO2 (tonnes) and facility power (MW) of a training run or of running GPUs."""
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.estimate.economics import energy

    _need(gpu, "--gpu ID (see `flopwise gpu list`)")
    _need(gpus, "--gpus N")
    acc = get_accelerator(gpu)
    if gpus <= 0:
        raise FlopwiseError(f"--gpus must be a positive integer, got {gpus}")
    positive(days, "--days")
    positive(years, "--years")
    if (tokens is None) != (model is None):
        raise FlopwiseError("--model needs --tokens (and --tokens needs --model): together they price a training run")
    given = sum(x is not None for x in (tokens, days, years))
    if given == 0:
        raise FlopwiseError("say how long: --model M --tokens T (a training run), --days D, or --years Y")
    if given > 1:
        raise FlopwiseError("give only one duration: --model M --tokens T (a training run), --days D, or --years Y")
    power = _power_inputs(acc, tdp_w, node_overhead_w, load, utilization, pue, usd_per_kwh, region, grid_g)
    what = ""
    if tokens is not None:
        from flopwise.cli.train_cmd import build_job
        from flopwise.plan.training import plan_training

        n_tokens = parse_number(tokens, "--tokens")
        job = build_job(model, acc.id, None, None, gpus, None, None, "bf16", tokens=n_tokens)
        est = plan_training(job, gpus, n_tokens, None, top=0)
        hours = est.train_s / 3600
        what = f"training {est.model} on {si(n_tokens)} tokens: {est.days:,.1f} days on {gpus} GPUs (planner, MFU {pct(est.mfu)})"
    elif days is not None:
        hours = days * 24
    else:
        hours = years * 8760
    res = energy(gpus, hours, power, what)
    if json_out:
        print_json(res)
        return
    t = Table(title=f"energy: {gpus:,} x {acc.id} for {hours / 24:,.1f} days", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    t.add_row("facility power", f"{res.facility_kw:,.1f} kW = {res.facility_mw:,.3f} MW (IT {res.it_kw:,.1f} kW x PUE {power.pue:g})")
    t.add_row("energy", f"{res.energy_kwh:,.0f} kWh ({res.energy_kwh / 1e6:,.3f} GWh)")
    t.add_row("electricity", f"{usd(res.electricity_usd)} at ${power.usd_per_kwh:.3f}/kWh")
    t.add_row("carbon", f"{res.co2e_tonnes:,.2f} tCO2e at {res.grid_g_per_kwh:.0f} g/kWh ({power.grid_name})")
    console.print(t)
    if explain:
        _explain("assumptions", res.assumptions)
    else:
        console.print("[dim]--explain for the assumptions[/dim]")


def grid_list(json_out: bool = JSON_OPT) -> None:
    """Grid carbon intensity by region (GCP, AWS, countries)."""
    from flopwise.catalog.carbon import grid_regions

    regs = grid_regions()
    if json_out:
        print_json([r.__dict__ for r in regs])
        return
    t = Table(title="grid carbon intensity (location-based)")
    for c in ("region", "name", "gCO2e/kWh", "year", "source"):
        t.add_column(c)
    for r in regs:
        t.add_row(r.region, r.name, f"{r.g_co2e_per_kwh:.0f}", str(r.year), r.source)
    console.print(t)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
    app.command("fit")(fit)
    app.command("budget")(budget_cmd)
    app.command("tco")(tco)
    app.command("energy")(energy_cmd)
    app.command("grid")(grid_list)
