"""`flopwise serve`: latency, throughput, memory and cost of serving a model; replicas for a request
rate (with peaks and growth); `--compare` ranks every accelerator by cost per million tokens."""

from __future__ import annotations

import math
import re

import typer
from rich import box
from rich.table import Table

from flopwise.cli.common import JSON_OPT, console, parse_number, positive, print_json
from flopwise.errors import FlopwiseError

_RATE_UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0, "h": 3600.0,
               "hr": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_TIME_UNITS = {"us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0}


def parse_rate(text: str, name: str = "--rate") -> float:
    """Requests per second from '20/s', '1200/min', '50k/day' or a bare number (per second)."""
    t = text.strip().lower().replace(" ", "")
    num, _, unit = t.partition("/")
    unit = unit.rstrip("s") if unit not in ("s",) else unit
    if unit and unit not in _RATE_UNITS:
        raise FlopwiseError(f"{name} must look like 20/s, 1200/min or 50k/day, got '{text}'")
    return parse_number(num, name, "20/s, 1200/min or 50k/day") / _RATE_UNITS.get(unit or "s", 1.0)


def parse_duration(text: str, name: str) -> float:
    """Seconds from '1s', '50ms', '500us' or '2min' (a unit is required: '50' is ambiguous)."""
    m = re.fullmatch(r"\s*(-?[0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*([a-zµ]*)\s*", text.strip().lower())
    if not m or m.group(2) not in _TIME_UNITS:
        raise FlopwiseError(f"{name} must be a duration with a unit, like 1s, 50ms or 500us, got '{text}'")
    value = float(m.group(1)) * _TIME_UNITS[m.group(2)]
    positive(value, name)
    return value


# A rate that grows more than tenfold a week is not a capacity plan any fleet can follow.
MAX_WEEKLY_GROWTH = 10.0


def parse_fraction(text: str, name: str) -> float:
    """0.5 from '50%' or '0.5'."""
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise FlopwiseError(f"{name} must be a fraction like 50% or 0.5, got '{text}'") from None
    if not -1 < value <= MAX_WEEKLY_GROWTH:
        raise FlopwiseError(f"{name} must be more than -100% and at most {MAX_WEEKLY_GROWTH:.0%}, got '{text}'")
    return value


def parse_factor(text: str, name: str) -> float:
    t = text.strip().lower().removesuffix("x")
    try:
        value = float(t)
    except ValueError:
        raise FlopwiseError(f"{name} must be a number like 10 or 10x, got '{text}'") from None
    if not 1 <= value < math.inf:
        raise FlopwiseError(f"{name} must be a finite number of at least 1 (peak / average), got '{text}'")
    return value


def _tokens(text: str, name: str) -> int:
    value = parse_number(text, name)
    if value != int(value):
        raise FlopwiseError(f"{name} must be a whole number of tokens, got '{text}'")
    return int(value)


def _precision(text: str, name: str, allowed: tuple[str, ...]) -> str:
    from flopwise.estimate.serving import normalise_precision

    p = normalise_precision(text)
    if p not in allowed:
        raise FlopwiseError(f"{name} must be one of {', '.join(allowed)}, got '{text}'")
    return p


def _ms(s: float) -> str:
    if s == float("inf"):
        return "-"
    return f"{s * 1e3:,.1f} ms" if s < 10 else f"{s:,.1f} s"


def _usd(x: float | None, digits: int = 3) -> str:
    return "-" if x is None else f"${x:,.{digits}f}"


# ---- printing ------------------------------------------------------------------------------------


def print_plan(plan) -> None:
    from flopwise.report.format import gib, pct

    e = plan.estimate
    head = Table(title=f"serve {e.model} on {e.gpus} x {e.accelerator}", show_header=False)
    head.add_column("", style="bold")
    head.add_column("")
    head.add_row("layout", f"{e.replicas} replica(s) of tp={e.tp} pp={e.pp} ({e.tp * e.pp} GPUs each)")
    head.add_row("precision", f"weights {e.weights} (GEMMs in {e.compute_precision}), KV cache {e.kv}")
    head.add_row("request", f"{e.input_tokens} input + {e.output_tokens} output tokens")
    head.add_row("targets", plan.targets.describe() + ("" if e.meets_targets else "  [red]NOT MET[/red]"))
    head.add_row("concurrency", f"{e.concurrency:,.1f} in flight ({e.concurrency_per_replica:,.1f} per replica; "
                                f"KV cache holds {e.max_concurrency_per_replica:,})")
    head.add_row("request rate", f"{e.request_rate_per_s:,.2f} requests/s")
    head.add_row("TTFT", f"{_ms(e.ttft_s)} mean, {_ms(e.ttft_p99_s)} p99")
    head.add_row("TPOT", f"{_ms(e.tpot_s)}  ({1 / e.tpot_s:,.1f} tokens/s per user)")
    head.add_row("end-to-end", _ms(e.e2e_s))
    head.add_row("output tokens/s", f"{e.output_tokens_per_s:,.0f} system, {e.output_tokens_per_s_per_gpu:,.1f} per GPU")
    head.add_row("total tokens/s", f"{e.total_tokens_per_s:,.0f} system, {e.total_tokens_per_s_per_gpu:,.1f} per GPU")
    if e.usd_per_gpu_hour is not None:
        head.add_row("cost (on demand)", f"${e.usd_per_gpu_hour:.2f}/GPU-h = {_usd(e.usd_per_hour, 2)}/h: "
                                         f"{_usd(e.usd_per_m_input_tokens)} per M input, {_usd(e.usd_per_m_output_tokens)} per M output, "
                                         f"{_usd(e.usd_per_m_tokens)} per M tokens")
    if e.spot_usd_per_gpu_hour is not None:
        head.add_row("cost (spot)", f"${e.spot_usd_per_gpu_hour:.2f}/GPU-h: {_usd(e.spot_usd_per_m_input_tokens)} per M input, "
                                    f"{_usd(e.spot_usd_per_m_output_tokens)} per M output, {_usd(e.spot_usd_per_m_tokens)} per M tokens")
    for n in e.notes:
        head.add_row("note", n)
    tr = plan.track_record
    head.add_row("track record", "no published serving runs on this hardware generation were scored: unvalidated"
                 if tr is None else tr.describe("published serving runs"))
    console.print(head)

    m = e.memory
    mt = Table(title=f"memory per GPU: {gib(m.total_bytes)} of {gib(m.capacity_bytes)}")
    mt.add_column("component")
    mt.add_column("GiB", justify="right")
    for name, v in (("weights", m.weights_bytes), ("KV cache reserved", m.kv_capacity_bytes),
                    ("  of which in use", m.kv_cache_bytes), ("activations workspace", m.activations_bytes),
                    ("runtime (CUDA context, workspaces)", m.runtime_bytes)):
        mt.add_row(name, f"{v / 2**30:,.2f}")
    mt.add_row("KV per token (this GPU)", f"{m.kv_bytes_per_token / 2**10:,.1f} KiB")
    console.print(mt)

    st = Table(title="one engine step (replica), by component")
    st.add_column("component")
    st.add_column("prefill of a request", justify="right")
    st.add_column("decode step", justify="right")
    for k in ("weights_gemm_s", "attention_s", "elementwise_s", "tp_comm_s", "pp_comm_s", "overhead_s", "total_s"):
        a, b = getattr(e.prefill, k), getattr(e.decode, k)
        if a == 0 and b == 0:
            continue
        st.add_row(k.removesuffix("_s").replace("_", " "), _ms(a), _ms(b))
    st.add_row("weights GEMMs bound by", e.prefill.bound, e.decode.bound)
    console.print(st)
    console.print(f"[dim]prefill share of GPU time {pct(e.prefill_time_share)}; decode step at batch "
                  f"{e.decode.rows:,.0f}: weight read {_ms(e.decode.weight_read_s)}, GEMM math {_ms(e.decode.gemm_compute_s)}, "
                  f"KV read {_ms(e.decode.kv_read_s)}[/dim]")

    c = plan.capacity
    if c is not None:
        ct = Table(title=f"capacity: average {c.average_rate_per_s:,.2f}/s, peak {c.peak_factor:g}x = {c.peak_rate_per_s:,.2f}/s "
                         f"({c.rate_per_replica_max:,.2f}/s per replica of {c.gpus_per_replica} GPUs)")
        for col in ("provisioned for", "replicas", "GPUs", "$ per day", "$ per M tokens", "utilisation"):
            ct.add_column(col)
        ct.add_row("peak", str(c.replicas_peak), str(c.gpus_peak), _usd(c.usd_per_day_peak_provisioned, 0),
                   _usd(c.usd_per_m_tokens_peak_provisioned), pct(c.utilisation_peak_provisioned))
        ct.add_row("average (ideal autoscaling)", str(c.replicas_average), str(c.gpus_average),
                   _usd(c.usd_per_day_average_provisioned, 0), _usd(c.usd_per_m_tokens_average_provisioned),
                   pct(min(1.0, c.average_rate_per_s / (c.replicas_average * c.rate_per_replica_max))))
        console.print(ct)
        if c.spot_usd_per_day_peak_provisioned is not None:
            console.print(f"[dim]peak provisioning on spot: {_usd(c.spot_usd_per_day_peak_provisioned, 0)} per day[/dim]")
        if c.weeks:
            wt = Table(title=f"growth {c.weekly_growth:+.0%} per week (sized for the peak)")
            for col in ("week", "average /s", "peak /s", "replicas", "GPUs", "$ per week"):
                wt.add_column(col, justify="right")
            for w in c.weeks:
                wt.add_row(str(w.week), f"{w.average_rate_per_s:,.2f}", f"{w.peak_rate_per_s:,.2f}", str(w.replicas),
                           str(w.gpus), _usd(w.usd_per_week, 0))
            console.print(wt)

    lt = Table(title=f"layouts considered (planned in {plan.plan_s * 1e3:.0f} ms)", box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("tp", "pp", "max batch", "batch", "TTFT p99", "TPOT", "tok/s/GPU", "req/s/replica", "note"):
        lt.add_column(col, justify="left" if col == "note" else "right", no_wrap=col != "note")
    for p in plan.layouts[:8]:
        lt.add_row(str(p.tp), str(p.pp), str(p.max_concurrency), f"{p.concurrency:,.0f}", _ms(p.ttft_p99_s), _ms(p.tpot_s),
                   f"{p.output_tokens_per_s / p.gpus_per_replica:,.1f}", f"{p.requests_per_s:,.2f}",
                   p.reason if not p.meets_targets else "")
    console.print(lt)


def print_compare(res, top: int, all_counts: bool) -> None:
    rows = res.ranked
    if not all_counts:
        seen, best = set(), []
        for r in rows:
            if r.accelerator not in seen:
                seen.add(r.accelerator)
                best.append(r)
        rows = best
    wide = console.width >= 120
    t = Table(title=f"cheapest accelerators for {res.model}: {res.input_tokens} in / {res.output_tokens} out, "
                    f"weights {res.weights}, KV {res.kv}, targets: {res.targets.describe()}",
              box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True)
    cols = ["accelerator", "GPUs", "batch", "TTFT99", "TPOT", "tok/s/GPU", "$/GPUh", "$/Mtok"]
    if wide:
        cols = ["#"] + cols + ["$/M in", "$/M out", "spot $/M tok"]
    for col in cols:
        t.add_column(col, justify="left" if col == "accelerator" else "right", no_wrap=True)

    def short_ms(x: float) -> str:
        return f"{x * 1e3:,.0f}ms" if x >= 0.1 else f"{x * 1e3:.1f}ms"

    for i, r in enumerate(rows[:top], 1):
        gp = f"{r.gpus_per_replica}" + (f" tp{r.tp}xpp{r.pp}" if r.pp > 1 else "")
        if r.replicas > 1:
            gp = f"{r.replicas}x{gp}"
        cells = [r.accelerator, gp, f"{r.concurrency_per_replica:,.0f}", short_ms(r.ttft_p99_s), short_ms(r.tpot_s),
                 f"{r.output_tokens_per_s_per_gpu:,.0f}", _usd(r.usd_per_gpu_hour, 2), _usd(r.usd_per_m_tokens)]
        if wide:
            cells = [str(i)] + cells + [_usd(r.usd_per_m_input_tokens), _usd(r.usd_per_m_output_tokens),
                                        _usd(r.spot_usd_per_m_tokens)]
        t.add_row(*cells)
    console.print(t)
    if res.unpriced:
        names = sorted({r.accelerator for r in res.unpriced})
        console.print(f"[dim]meet the targets but have no catalog price: {', '.join(names)}[/dim]")
    if res.rejected:
        console.print("[dim]cannot meet the targets or do not fit: "
                      + "; ".join(f"{k} ({v})" for k, v in sorted(res.rejected.items())) + "[/dim]")
    console.print(f"[dim]{len(res.ranked) + len(res.unpriced)} options ranked in {res.elapsed_s * 1e3:.0f} ms; "
                  f"prices: cheapest catalog offer per accelerator (SkyPilot catalogs)[/dim]")


# ---- the command ---------------------------------------------------------------------------------


def serve(
    model: str = typer.Argument(..., help="catalog id, or path to a config.json / model YAML"),
    gpu: str = typer.Option(None, "--gpu", help="accelerator id (see `flopwise gpu list`)"),
    gpus: int = typer.Option(None, "--gpus", help="GPUs available in total (default: as many as the rate needs)"),
    system: str = typer.Option(None, "--system", help="bundled system (node + links), e.g. dgx-h100"),
    input_tokens: str = typer.Option("2048", "--input", help="prompt tokens per request"),
    output_tokens: str = typer.Option("256", "--output", help="generated tokens per request"),
    rate: str = typer.Option(None, "--rate", help="average request rate, e.g. 20/s, 1200/min, 50k/day"),
    concurrency: float = typer.Option(None, "--concurrency", help="requests in flight (closed loop)"),
    ttft_p99: str = typer.Option(None, "--ttft-p99", help="target time to first token, p99 (e.g. 1s, 500ms)"),
    tpot: str = typer.Option(None, "--tpot", help="target time per output token (e.g. 50ms)"),
    weights: str = typer.Option("bf16", "--weights", help="weight precision: bf16, fp16, fp8, int8, int4"),
    kv: str = typer.Option("bf16", "--kv", help="KV-cache precision: bf16, fp16, fp8, int8"),
    price: float = typer.Option(None, "--price-per-gpu-hour", help="$ per GPU-hour on demand (default: cheapest catalog price)"),
    spot_price: float = typer.Option(None, "--spot-price-per-gpu-hour", help="$ per GPU-hour on spot (default: cheapest catalog spot price)"),
    peak_factor: str = typer.Option(None, "--peak-factor", help="peak / average request rate, e.g. 10x (needs --rate)"),
    weekly_growth: str = typer.Option(None, "--weekly-growth", help="growth of the rate per week, e.g. 50% (needs --rate)"),
    weeks: int = typer.Option(8, "--weeks", help="weeks of growth to plan"),
    compare: bool = typer.Option(False, "--compare", help="rank every catalog accelerator (and count) by $ per million tokens"),
    all_counts: bool = typer.Option(False, "--all-counts", help="with --compare: show every GPU count, not the best per accelerator"),
    top: int = typer.Option(15, "--top", min=1, help="with --compare: rows to show"),
    json_out: bool = JSON_OPT,
) -> None:
    """Plan serving: TTFT, TPOT, throughput, memory and $ per million tokens; replicas for a rate."""
    from flopwise.catalog.models import resolve_model
    from flopwise.estimate.serving import KV_PRECISIONS, WEIGHT_PRECISIONS
    from flopwise.plan.serving import ServingRequest, ServingTargets, compare_accelerators, plan_serving

    lin = _tokens(input_tokens, "--input")
    lout = _tokens(output_tokens, "--output")
    w = _precision(weights, "--weights", WEIGHT_PRECISIONS)
    k = _precision(kv, "--kv", KV_PRECISIONS)
    targets = ServingTargets(ttft_p99_s=parse_duration(ttft_p99, "--ttft-p99") if ttft_p99 else None,
                             tpot_s=parse_duration(tpot, "--tpot") if tpot else None)
    rate_s = parse_rate(rate) if rate is not None else None
    positive(concurrency, "--concurrency")
    positive(price, "--price-per-gpu-hour")
    positive(spot_price, "--spot-price-per-gpu-hour")
    if gpus is not None and gpus <= 0:
        raise FlopwiseError(f"--gpus must be a positive integer, got {gpus}")
    if rate_s is not None and concurrency is not None:
        raise FlopwiseError("give either --rate or --concurrency, not both")
    pf = parse_factor(peak_factor, "--peak-factor") if peak_factor is not None else None
    growth = parse_fraction(weekly_growth, "--weekly-growth") if weekly_growth is not None else None
    if (pf is not None or growth is not None) and rate_s is None:
        raise FlopwiseError("--peak-factor and --weekly-growth size capacity for a request rate: give --rate too")
    if weeks < 0 or weeks > 520:
        raise FlopwiseError(f"--weeks must be between 0 and 520, got {weeks}")
    spec = resolve_model(model)

    if compare:
        if price is not None or spot_price is not None:
            raise FlopwiseError("--compare prices every accelerator from the catalog; drop --price-per-gpu-hour")
        if gpu is not None or system is not None:
            raise FlopwiseError("--compare ranks every accelerator; drop --gpu/--system (use --gpus to cap the count)")
        res = compare_accelerators(spec, lin, lout, targets, w, k, rate_s, gpus)
        if json_out:
            print_json(res)
            return
        print_compare(res, top, all_counts)
        return

    if gpu is None and system is None:
        raise FlopwiseError("give an accelerator with --gpu ID (see `flopwise gpu list`), or --compare to rank them all")
    from flopwise.catalog.prices import fill_default_prices
    from flopwise.catalog.systems import make_cluster

    cluster = make_cluster(gpu, system)
    acc = cluster.accelerator
    if not acc.usable:
        raise FlopwiseError(f"{acc.id} is listed for reference only; its rates are not comparable")
    price, spot_price, price_note = fill_default_prices(acc.id, price, spot_price)
    req = ServingRequest(model=spec, cluster=cluster, input_tokens=lin, output_tokens=lout, gpus=gpus,
                         rate_per_s=rate_s, concurrency=concurrency, targets=targets, weights=w, kv=k,
                         usd_per_gpu_hour=price, spot_usd_per_gpu_hour=spot_price)
    plan = plan_serving(req, pf, growth, weeks)
    if json_out:
        out = plan.model_dump()
        out["price_source"] = price_note
        print_json(out)
        return
    print_plan(plan)
    if price_note:
        console.print(f"[dim]price: {price_note}[/dim]")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
