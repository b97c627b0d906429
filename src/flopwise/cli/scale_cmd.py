"""`flopwise scale`: compute-optimal parameters, tokens and FLOPs; loss; cost and time; inference-aware sizing."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from flopwise.cli.common import JSON_OPT, console, parse_number, print_json
from flopwise.errors import FlopwiseError
from flopwise.estimate.scaling import (
    DEFAULT_GPUS,
    DEFAULT_INFERENCE_MFU,
    DEFAULT_LAW,
    DEFAULT_TRAIN_MFU,
    ComputeRate,
    InferenceAwareResult,
    ModelRun,
    ScalingResult,
    get_law,
    law_ids,
    plan_scaling,
)
from flopwise.report.format import duration, params as fmt_params, pct, si, usd


def _number(text: str | None, name: str, allow_zero: bool = False) -> float | None:
    if text is None:
        return None
    if allow_zero and text.strip() in {"0", "0.0", "0e0"}:
        return 0.0
    return parse_number(text, name)


def _fraction(value: float | None, name: str) -> None:
    if value is not None and not (0 < value <= 1):
        raise FlopwiseError(f"{name} must be a fraction in (0, 1], got {value:g}")


def build_rate(gpu: str | None, gpus: int, mfu: float, inference_mfu: float, price: float | None) -> ComputeRate | None:
    """Accelerator peak (bf16), assumed MFU and price (catalog cheapest on-demand unless given)."""
    if gpu is None:
        if price is not None:
            raise FlopwiseError("--price-per-gpu-hour needs --gpu")
        return None
    from flopwise.catalog.accelerators import get_accelerator

    acc = get_accelerator(gpu)
    if gpus <= 0:
        raise FlopwiseError(f"--gpus must be a positive integer, got {gpus}")
    source = "--price-per-gpu-hour"
    if price is not None:
        if not (price > 0):
            raise FlopwiseError(f"--price-per-gpu-hour must be a positive number, got {price:g}")
    else:
        from flopwise.catalog.prices import cheapest_price

        found = cheapest_price(acc.id)
        if found is not None:
            price, source = found.usd_per_gpu_hour, found.describe()
        else:
            source = f"no catalog price for {acc.id} (give --price-per-gpu-hour)"
    return ComputeRate(accelerator=acc.id, peak_flops_per_s=acc.peak("bf16"), mfu=mfu,
                       usd_per_gpu_hour=price, price_source=source, gpus=gpus, inference_mfu=inference_mfu)


def resolve_runs(names: list[str], tokens: float | None) -> list[ModelRun]:
    from flopwise.catalog.models import resolve_model

    if tokens is not None and len(names) > 1:
        raise FlopwiseError("--tokens with --model overrides one model's training tokens; give a single --model")
    runs = []
    for name in names:
        spec = resolve_model(name)
        n = float(spec.params_published or spec.params_total)
        d = tokens if tokens is not None else spec.training_tokens
        if d is None:
            raise FlopwiseError(f"model '{name}' has no training tokens in the catalog; give them with --tokens")
        runs.append(ModelRun(name=name, params=n, tokens=float(d)))
    return runs


def _inference_table(r: InferenceAwareResult) -> Table:
    money = r.objective == "usd"
    t = Table(title=(f"inference-aware sizing (Sardana et al. 2023), minimising lifetime {'cost' if money else 'FLOPs'}: "
                     f"loss {r.target_loss:.4f} ({r.law}), {si(r.inference_tokens)} inference tokens"))
    t.add_column("")
    t.add_column("Chinchilla-optimal", justify="right")
    t.add_column("lifetime-optimal", justify="right")
    a, b = r.chinchilla, r.optimal
    t.add_row("parameters", fmt_params(a.params), f"{fmt_params(b.params)} ({r.params_ratio:.2f}x)")
    t.add_row("training tokens", si(a.tokens), f"{si(b.tokens)} ({r.tokens_ratio:.2f}x)")
    t.add_row("tokens / parameter", f"{a.tokens_per_param:,.0f}", f"{b.tokens_per_param:,.0f}")
    t.add_row("training FLOPs", f"{a.train_flops:.3e}", f"{b.train_flops:.3e}")
    t.add_row("inference FLOPs", f"{a.inference_flops:.3e}", f"{b.inference_flops:.3e}")
    t.add_row("total FLOPs", f"{a.total_flops:.3e}", f"{b.total_flops:.3e} ({-r.saving_fraction_flops:+.1%})")
    if a.total_cost_usd is not None and b.total_cost_usd is not None:
        t.add_row("training cost", usd(a.train_cost_usd), usd(b.train_cost_usd))
        t.add_row("inference cost", usd(a.inference_cost_usd), usd(b.inference_cost_usd))
        frac = f" ({-r.saving_fraction_usd:+.1%})" if r.saving_fraction_usd is not None else ""
        t.add_row("total cost", usd(a.total_cost_usd), usd(b.total_cost_usd) + frac)
    return t


def print_result(r: ScalingResult) -> None:
    head = Table(title=f"scale: {r.law_name} [{r.law}]", show_header=False)
    head.add_column("", style="bold")
    head.add_column("")
    if isinstance(r.given_value, str):
        given = r.given_value
    elif r.given in ("params", "tokens"):
        given = si(r.given_value)
    elif r.given == "usd":
        given = usd(r.given_value)
    else:
        given = f"{r.given_value:.4g} FLOPs"
    head.add_row("given", f"--{r.given} {given}")
    head.add_row("params", fmt_params(r.params))
    head.add_row("tokens", f"{si(r.tokens)} ({r.tokens_per_param:.1f} tokens per parameter)")
    head.add_row("flops", f"{r.flops:.3e} ({r.gopher_units:,.4g}x Gopher's training compute, 5.76e23)")
    head.add_row("loss", f"{r.loss:.4f} nats/token")
    c = r.cost
    if c is not None:
        head.add_row("hardware", f"{c.gpus:,} x {c.accelerator} at {pct(c.mfu)} MFU of {c.peak_flops_per_s / 1e12:,.0f} TFLOP/s bf16 (--mfu, --gpus)")
        head.add_row("time", f"{duration(c.wall_s)} on {c.gpus:,} GPUs ({c.gpu_hours:,.0f} GPU-hours)")
        if c.cost_usd is not None:
            head.add_row("cost", f"{usd(c.cost_usd)} at ${c.usd_per_gpu_hour:.2f}/GPU-hour")
    console.print(head)
    console.print(f"[dim]law: {r.law_source}[/dim]")
    console.print(f"[dim]calibration: {r.law_calibration}[/dim]")
    console.print(f"[dim]loss: {r.loss_source}[/dim]")
    if c is not None:
        console.print(f"[dim]price: {c.price_source}[/dim]")
    if r.models:
        mt = Table(title=f"trained models vs compute-optimal at the same compute ({r.law})")
        mt.add_column("")
        for m in r.models:
            mt.add_column(m.model, justify="right")
        rows = [
            ("parameters", lambda m: fmt_params(m.params)),
            ("training tokens", lambda m: f"{si(m.tokens)} ({m.tokens_per_param:,.1f}/param)"),
            ("FLOPs (6ND)", lambda m: f"{m.flops:.3e}"),
            ("optimal parameters", lambda m: f"{fmt_params(m.optimal_params)} ({m.params_ratio:.2f}x)"),
            ("optimal tokens", lambda m: f"{si(m.optimal_tokens)} ({m.tokens_ratio:.2f}x)"),
            ("loss", lambda m: f"{m.loss:.4f}"),
            ("optimal loss", lambda m: f"{m.optimal_loss:.4f} ({m.loss_gap:+.4f})"),
            ("compute efficiency", lambda m: "-" if m.compute_efficiency is None else pct(m.compute_efficiency)),
        ]
        for label, fn in rows:
            mt.add_row(label, *[fn(m) for m in r.models])
        console.print(mt)
        for m in r.models:
            console.print(f"{m.model}: {m.verdict}")
        first = r.models[0]
        for m in r.models[1:]:
            console.print(f"{m.model} vs {first.model}: {m.flops / first.flops:.2f}x the compute, "
                          f"loss {m.loss - first.loss:+.4f} nats/token")
        console.print("[dim]compute efficiency: FLOPs a compute-optimal model needs for the same loss, "
                      "over the FLOPs spent[/dim]")
    for inf in (r.inference_compute_optimal, r.inference_cost_optimal):
        if inf is not None:
            console.print(_inference_table(inf))
    for note in r.notes:
        console.print(f"[dim]note: {note}[/dim]")


def scale(
    compute: str = typer.Option(None, "--compute", help="training FLOPs budget, e.g. 5.76e23"),
    params: str = typer.Option(None, "--params", help="model size, e.g. 70B or 1T"),
    tokens: str = typer.Option(None, "--tokens", help="training tokens, e.g. 1.4T (with --model: that model's tokens)"),
    usd_budget: str = typer.Option(None, "--usd", help="dollar budget for training, e.g. 10M (needs --gpu)"),
    model: list[str] = typer.Option(None, "--model", help="trained model to compare with compute-optimal (catalog id or config path; repeatable)"),
    law: str = typer.Option(DEFAULT_LAW, "--law", help=f"scaling law: {', '.join(law_ids())}"),
    gpu: str = typer.Option(None, "--gpu", help="accelerator id for time and cost (see `flopwise gpu list`)"),
    gpus: int = typer.Option(DEFAULT_GPUS, "--gpus", help="accelerators for wall-clock time"),
    mfu: float = typer.Option(DEFAULT_TRAIN_MFU, "--mfu", help="assumed training MFU (fraction of bf16 peak)"),
    price: float = typer.Option(None, "--price-per-gpu-hour", help="$ per GPU-hour (default: cheapest catalog on-demand price)"),
    inference_tokens: str = typer.Option(None, "--inference-tokens", help="lifetime inference tokens for inference-aware sizing, e.g. 2T"),
    inference_mfu: float = typer.Option(DEFAULT_INFERENCE_MFU, "--inference-mfu", help="assumed serving MFU, for the cost-optimal size"),
    target_loss: float = typer.Option(None, "--target-loss", help="loss to reach in inference-aware sizing (default: that of the compute-optimal model)"),
    plot: Path = typer.Option(None, "--plot", help="write IsoFLOP / loss-vs-compute / cost-vs-size plots (.png or .html)"),
    json_out: bool = JSON_OPT,
) -> None:
    """Compute-optimal model size, tokens and FLOPs for a budget (Chinchilla, Kaplan), predicted loss, cost and time,
    inference-aware sizing (Sardana et al. 2023) and how over- or under-trained existing models are."""
    scaling_law = get_law(law)
    _fraction(mfu, "--mfu")
    _fraction(inference_mfu, "--inference-mfu")
    if target_loss is not None and not (target_loss > 0):
        raise FlopwiseError(f"--target-loss must be a positive number, got {target_loss:g}")
    c = _number(compute, "--compute")
    n = _number(params, "--params")
    d = _number(tokens, "--tokens")
    x = _number(usd_budget, "--usd")
    life = _number(inference_tokens, "--inference-tokens", allow_zero=True)
    if x is not None and gpu is None:
        raise FlopwiseError("--usd needs --gpu to turn dollars into FLOPs (e.g. --gpu h100-sxm5-80gb)")
    rate = build_rate(gpu, gpus, mfu, inference_mfu, price)
    runs: list[ModelRun] = []
    if model:
        others = [k for k, v in (("--compute", c), ("--params", n), ("--usd", x)) if v is not None]
        if others:
            raise FlopwiseError(f"--model compares trained models; it does not combine with {', '.join(others)}")
        runs = resolve_runs(model, d)
        d = None
    result = plan_scaling(scaling_law, compute=c, params=n, tokens=d, usd=x, models=runs, rate=rate,
                          inference_tokens=life, target_loss=target_loss)
    if plot is not None:
        from flopwise.report.plots import scaling_figure, write_figure

        title = f"flopwise scale: {result.law_name}, {result.flops:.3g} FLOPs → {fmt_params(result.params)} parameters"
        write_figure(scaling_figure(result.plots, title), plot)
    if json_out:
        from dataclasses import asdict

        out = asdict(result)
        out["plot_file"] = str(plot) if plot is not None else None
        print_json(out)
        return
    print_result(result)
    if plot is not None:
        console.print(f"plots written to {plot}")


def register(app: typer.Typer) -> None:
    app.command("scale")(scale)
