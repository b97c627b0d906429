"""What does a budget buy? GPU-hours, the compute-optimal model it can pre-train, the largest model it can
fine-tune with LoRA on a dataset, and the tokens it can serve.

A budget is dollars on one accelerator (at a catalog or given price) or a number of GPUs for some days.
- GPU-hours = dollars / price, or GPUs × days × 24.
- FLOPs = GPU-hours × 3600 × dense 16-bit peak × MFU (default: estimate/scaling.DEFAULT_TRAIN_MFU, 40 %).
- Pre-training: the compute-optimal (N, D) on the scaling law's frontier (estimate/scaling, Hoffmann et
  al. 2022 approach 1 by default); without that module, Chinchilla's rule D = 20·N with C = 6·N·D.
- LoRA fine-tuning: hardware FLOPs per token ≈ 6·N (forward 2N, recomputed forward 2N under gradient
  checkpointing, backward through the frozen weights 2N; no weight gradients) — so N ≤ C / (6·D·epochs);
  and the model must fit (plan/fit.lora_memory, 16-bit base or QLoRA NF4 base) on the GPUs.
- Serving: the serving planner's best operating point for a model on the accelerator, tokens = GPU-hours ×
  3600 × (input + output) tokens/s per GPU.
"""

from __future__ import annotations

import math

from pydantic import BaseModel

from flopwise.errors import FlopwiseError
from flopwise.estimate.memory import model_state_bytes

LORA_FLOPS_PER_PARAM_TOKEN = 6.0
CHINCHILLA_TOKENS_PER_PARAM = 20.0
DEFAULT_SERVE_MODEL = "llama-3-8b"
DEFAULT_DATASET_TOKENS = 1e9


class PretrainOption(BaseModel):
    params: float
    tokens: float
    flops: float
    law: str
    gpus_to_hold_states: int  # GPUs needed just for weights + gradients + Adam states
    days_on_gpus: float | None
    note: str = ""


class FinetuneOption(BaseModel):
    dataset_tokens: float
    epochs: float
    compute_bound_params: float  # largest N the FLOPs allow
    model: str | None  # largest catalog model within both bounds
    model_params: float | None
    method: str | None  # LoRA / QLoRA
    memory_gib: float | None
    hours: float | None  # wall-clock on the budget's GPUs
    note: str = ""


class ServeOption(BaseModel):
    model: str
    layout: str | None
    tokens: float | None
    tokens_per_s_per_gpu: float | None
    usd_per_m_tokens: float | None
    input_tokens: int
    output_tokens: int
    note: str = ""


class BudgetResult(BaseModel):
    accelerator: str
    gpus: int
    usd: float | None
    usd_per_gpu_hour: float | None
    price_source: str
    price_date: str
    gpu_hours: float
    days: float
    mfu: float
    flops: float
    pretrain: PretrainOption
    finetune: FinetuneOption
    serve: ServeOption
    assumptions: list[str]


def _law():
    try:
        from flopwise.estimate.scaling import DEFAULT_LAW, get_law

        return get_law(DEFAULT_LAW)
    except ImportError:  # the scaling module is optional
        return None


def compute_optimal(flops: float) -> tuple[float, float, str]:
    """(params, tokens, law description) on the compute-optimal frontier for `flops`."""
    law = _law()
    if law is not None:
        n = law.params_for_compute(flops)
        return n, law.tokens_for_compute(flops), f"{law.name} ({law.source})"
    n = math.sqrt(flops / (6.0 * CHINCHILLA_TOKENS_PER_PARAM))
    return n, CHINCHILLA_TOKENS_PER_PARAM * n, "Chinchilla rule of thumb: 20 tokens per parameter, C = 6·N·D"


def budget(acc_id: str, usd: float | None = None, gpus: int | None = None, days: float | None = None,
           usd_per_gpu_hour: float | None = None, cloud: str | None = None, spot: bool = False, catalog=None,
           mfu: float | None = None, dataset_tokens: float = DEFAULT_DATASET_TOKENS, epochs: float = 1.0,
           serve_model: str = DEFAULT_SERVE_MODEL, input_tokens: int = 1000, output_tokens: int = 200) -> BudgetResult:
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.catalog.models import model_ids, get_model, resolve_model
    from flopwise.catalog.prices import bundled_catalog
    from flopwise.catalog.systems import default_cluster
    from flopwise.plan.fit import lora_memory

    acc = get_accelerator(acc_id)
    cluster = default_cluster(acc)
    if mfu is None:
        try:
            from flopwise.estimate.scaling import DEFAULT_TRAIN_MFU as mfu
        except ImportError:
            mfu = 0.40
    if not 0 < mfu <= 1:
        raise FlopwiseError(f"--mfu must be in (0, 1], got {mfu:g}")
    for v, name in ((usd, "--usd"), (days, "--days"), (usd_per_gpu_hour, "--price-per-gpu-hour")):
        if v is not None and not 0 < v < math.inf:
            raise FlopwiseError(f"{name} must be a positive finite number, got {v:g}")
    if gpus is not None and gpus <= 0:
        raise FlopwiseError(f"--gpus must be a positive integer, got {gpus}")
    if not 0 < dataset_tokens < math.inf or not 0 < epochs < math.inf:
        raise FlopwiseError("--dataset-tokens and --epochs must be positive")
    if usd is None and (gpus is None or days is None):
        raise FlopwiseError("give a budget: --usd AMOUNT, or --gpus N --days D")
    if usd is not None and days is not None:
        raise FlopwiseError("give either --usd or --days, not both (--usd with --gpus says how many GPUs to spread it on)")

    # price
    price, src, date = usd_per_gpu_hour, "--price-per-gpu-hour", "given"
    if price is None:
        cat = catalog or bundled_catalog()
        found = cat.cheapest(acc.id, cloud, spot=spot)
        if found is not None:
            price = found.spot_usd_per_gpu_hour if spot else found.usd_per_gpu_hour
            src, date = found.describe(spot=spot), found.date
        elif usd is not None:
            where = f" on {cloud}" if cloud else ""
            raise FlopwiseError(f"no {'spot ' if spot else ''}catalog price for {acc.id}{where}; give --price-per-gpu-hour"
                                + (f" (clouds with prices: {', '.join(sorted({p.cloud for p in cat.prices}))})" if cloud else ""))
        else:
            src, date = "no catalog price", "-"
    n = gpus or cluster.gpus_per_node
    if usd is not None:
        gpu_hours = usd / price
        spent = usd
    else:
        gpu_hours = gpus * days * 24.0
        spent = gpu_hours * price if price is not None else None
    wall_days = gpu_hours / n / 24.0
    peak = acc.peak("bf16")
    flops = gpu_hours * 3600.0 * peak * mfu

    # pre-training
    p_n, p_d, law = compute_optimal(flops)
    states = model_state_bytes(p_n).total_bytes
    hold = max(1, math.ceil(states / (0.9 * acc.memory_bytes)))
    note = ""
    if hold > n:
        note = f"its weights, gradients and Adam states ({states / 2**30:,.0f} GiB) need at least {hold} GPUs; you have {n}"
    pre = PretrainOption(params=p_n, tokens=p_d, flops=flops, law=law, gpus_to_hold_states=hold,
                         days_on_gpus=wall_days, note=note)

    # LoRA fine-tuning: largest catalog model within the compute and the memory bounds
    n_c = flops / (LORA_FLOPS_PER_PARAM_TOKEN * dataset_tokens * epochs)
    best = None
    for mid in model_ids():
        m = get_model(mid)
        if m.params_total > n_c:
            continue
        for q, label in ((False, "LoRA"), (True, "QLoRA")):
            mem, _ = lora_memory(m, cluster, n, min(2048, m.max_seq_len), 1, 16, q)
            if mem.total_bytes <= mem.capacity_bytes:
                if best is None or m.params_total > best[0].params_total:
                    best = (m, label, mem.total_bytes, mid)
                break
    if best is not None:
        m, label, mem_b, mid = best
        ft_flops = LORA_FLOPS_PER_PARAM_TOKEN * m.params_total * dataset_tokens * epochs
        hours = ft_flops / (peak * mfu * n) / 3600
        fine = FinetuneOption(dataset_tokens=dataset_tokens, epochs=epochs, compute_bound_params=n_c, model=mid,
                              model_params=float(m.params_total), method=label, memory_gib=mem_b / 2**30, hours=hours)
    else:
        fine = FinetuneOption(dataset_tokens=dataset_tokens, epochs=epochs, compute_bound_params=n_c, model=None,
                              model_params=None, method=None, memory_gib=None, hours=None,
                              note="no catalog model fits both the compute and the memory of this budget")

    # serving
    sm = resolve_model(serve_model)
    serve = _serve(sm, acc, n, gpu_hours, price, input_tokens, output_tokens)

    assumptions = [
        "budget: " + (f"${usd:,.0f} at ${price:.2f}/GPU-hour" if usd is not None else f"{gpus} GPUs x {days:g} days")
        + f" = {gpu_hours:,.0f} GPU-hours of {acc.id}" + (f" (price: {src})" if price is not None else " (no price known)"),
        f"spread over {n} GPUs" + (" (one node; give --gpus)" if gpus is None else "") + f": {wall_days:,.2f} days",
        f"FLOPs = GPU-hours x 3600 x {peak / 1e12:,.0f} TFLOP/s (dense bf16) x MFU {mfu:.0%} = {flops:.3g}",
        f"pre-train: compute-optimal frontier of {law}",
        f"LoRA: {LORA_FLOPS_PER_PARAM_TOKEN:g}·N FLOPs per token (forward, recompute, backward through frozen weights), "
        f"{dataset_tokens:.3g} tokens x {epochs:g} epochs; memory as `flopwise fit` (rank 16, seq 2048)",
        f"serve: {sm.name}, {input_tokens} in + {output_tokens} out tokens per request, continuous batching at the "
        "serving planner's best operating point (no latency target), GPUs busy all the time",
    ]
    return BudgetResult(accelerator=acc.id, gpus=n, usd=spent, usd_per_gpu_hour=price, price_source=src, price_date=date,
                        gpu_hours=gpu_hours, days=wall_days, mfu=mfu, flops=flops, pretrain=pre, finetune=fine,
                        serve=serve, assumptions=assumptions)


def _serve(model, acc, n: int, gpu_hours: float, price: float | None, lin: int, lout: int) -> ServeOption:
    from flopwise.plan.serving import ServingTargets, compare_accelerators

    try:
        res = compare_accelerators(model, lin, lout, ServingTargets(), accelerators=[acc], max_gpus=n,
                                   prices={acc.id: (price if price is not None else 1.0, None, "")})
    except FlopwiseError as exc:
        return ServeOption(model=model.name, layout=None, tokens=None, tokens_per_s_per_gpu=None, usd_per_m_tokens=None,
                           input_tokens=lin, output_tokens=lout, note=str(exc))
    rows = res.ranked + res.unpriced
    if not rows:
        why = res.rejected.get(acc.id, "does not fit")
        return ServeOption(model=model.name, layout=None, tokens=None, tokens_per_s_per_gpu=None, usd_per_m_tokens=None,
                           input_tokens=lin, output_tokens=lout, note=f"{model.name} on up to {n} x {acc.id}: {why}")
    r = max(rows, key=lambda r: r.total_tokens_per_s_per_gpu)
    per_gpu = r.total_tokens_per_s_per_gpu
    usd_m = price / 3600 / per_gpu * 1e6 if price is not None else None
    layout = f"tp={r.tp}" + (f" pp={r.pp}" if r.pp > 1 else "") + f", batch {r.concurrency_per_replica:.0f}"
    return ServeOption(model=model.name, layout=layout, tokens=gpu_hours * 3600 * per_gpu, tokens_per_s_per_gpu=per_gpu,
                       usd_per_m_tokens=usd_m, input_tokens=lin, output_tokens=lout)
