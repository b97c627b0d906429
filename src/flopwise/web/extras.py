"""Endpoints for the optional planners: serve, compare (Pareto front), fit, scale (curves), budget.

Each section is offered only when its planner module is importable, so the web app keeps working while
those modules are being built. Each endpoint calls the planner's public functions the way the matching
CLI command does, with the same path-free rules as app.py: models are catalog ids or pasted config.json
text, prices come from the bundled catalog only.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections import OrderedDict
from dataclasses import asdict
from typing import Literal

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator

from flopwise.errors import FlopwiseError
from flopwise.report.format import to_jsonable
from flopwise.web.schemas import MAX_GPUS, MAX_TOKENS, ModelRef, _Body, parse_count

# ---- availability -----------------------------------------------------------------------------------

_MODULES = {
    "serve": ("flopwise.plan.serving", "flopwise.cli.serve_cmd"),
    "compare": ("flopwise.plan.compare", "flopwise.catalog.prices"),
    "fit": ("flopwise.plan.fit",),
    "scale": ("flopwise.estimate.scaling", "flopwise.cli.scale_cmd"),
    "budget": ("flopwise.plan.budget",),
}


def _has(mod: str) -> bool:
    try:
        return importlib.util.find_spec(mod) is not None
    except (ImportError, ValueError):
        return False


def available() -> dict[str, bool]:
    return {name: all(_has(m) for m in mods) for name, mods in _MODULES.items()}


# ---- request bodies -----------------------------------------------------------------------------------

Sort = Literal["cost", "time", "usd-per-m-tokens"]


def _cli_parse(fn, value, name):
    """Run one of the CLI's text parsers; its FlopwiseError becomes a field error (422 with the field)."""
    try:
        return fn(str(value), name)
    except FlopwiseError as exc:
        raise ValueError(str(exc)) from None


class _Hardware(ModelRef):
    gpu: str | None = Field(default=None, max_length=100, description="accelerator id, e.g. h100-sxm5-80gb")
    system: str | None = Field(default=None, max_length=100, description="bundled system id, e.g. dgx-h100")

    @field_validator("gpu", "system", mode="after")
    @classmethod
    def _empty(cls, v):
        return v or None

    def cluster(self):
        from flopwise.catalog.systems import make_cluster

        if not self.gpu and not self.system:
            raise FlopwiseError("give 'gpu' (an accelerator id such as h100-sxm5-80gb) or 'system' (such as dgx-h100)")
        return make_cluster(self.gpu, self.system)


class _ServingShape(BaseModel):
    input_tokens: int = Field(default=2048, gt=0, le=10_000_000, description="prompt tokens per request")
    output_tokens: int = Field(default=256, gt=0, le=10_000_000, description="generated tokens per request")
    weights: str = Field(default="bf16", max_length=10, description="weight precision: bf16, fp16, fp8, int8, int4")
    kv: str = Field(default="bf16", max_length=10, description="KV-cache precision: bf16, fp16, fp8, int8")
    ttft_p99: str | None = Field(default=None, max_length=30, description="target time to first token, p99, e.g. 1s or 500ms")
    tpot: str | None = Field(default=None, max_length=30, description="target time per output token, e.g. 50ms")
    rate: str | None = Field(default=None, max_length=40, description="average request rate, e.g. 20/s, 1200/min, 50k/day")

    @field_validator("ttft_p99", "tpot", "rate", mode="after")
    @classmethod
    def _empty(cls, v):
        return v or None

    def parsed(self) -> dict:
        from flopwise.cli.serve_cmd import parse_duration, parse_rate
        from flopwise.estimate.serving import KV_PRECISIONS, WEIGHT_PRECISIONS, normalise_precision

        w, k = normalise_precision(self.weights), normalise_precision(self.kv)
        if w not in WEIGHT_PRECISIONS:
            raise FlopwiseError(f"weights must be one of {', '.join(WEIGHT_PRECISIONS)}, got '{self.weights}'")
        if k not in KV_PRECISIONS:
            raise FlopwiseError(f"kv must be one of {', '.join(KV_PRECISIONS)}, got '{self.kv}'")
        return {
            "weights": w, "kv": k,
            "ttft_p99_s": parse_duration(self.ttft_p99, "ttft_p99") if self.ttft_p99 else None,
            "tpot_s": parse_duration(self.tpot, "tpot") if self.tpot else None,
            "rate_per_s": parse_rate(self.rate, "rate") if self.rate else None,
        }


class ServeRequest(_Hardware, _ServingShape):
    """The inputs of `flopwise serve` (one accelerator)."""

    gpus: int | None = Field(default=None, gt=0, le=MAX_GPUS, description="GPUs available in total (default: as many as the rate needs)")
    concurrency: float | None = Field(default=None, gt=0, le=1e7, description="requests in flight (closed loop)")
    price_per_gpu_hour: float | None = Field(default=None, gt=0, le=10_000)
    spot_price_per_gpu_hour: float | None = Field(default=None, gt=0, le=10_000)
    peak_factor: str | None = Field(default=None, max_length=20, description="peak / average request rate, e.g. 10x (needs rate)")
    weekly_growth: str | None = Field(default=None, max_length=20, description="growth of the rate per week, e.g. 50% (needs rate)")
    weeks: int = Field(default=8, ge=0, le=520)

    @field_validator("peak_factor", "weekly_growth", mode="after")
    @classmethod
    def _empty2(cls, v):
        return v or None


class CompareRequest(ModelRef, _ServingShape):
    """Every (cloud, accelerator, GPU count) for a training run or for serving; Pareto front of cost vs time."""

    mode: Literal["train", "serve"] = "train"
    tokens: float | str | None = Field(default=None, description="training tokens (mode train), e.g. 1T")
    seq_len: int | None = Field(default=None, gt=0, le=10_000_000)
    global_batch: int | None = Field(default=None, gt=0, le=100_000_000)
    precision: Literal["bf16", "fp16", "fp8", "fp32"] = "bf16"
    optimizer: str = Field(default="adam", max_length=30)
    clouds: list[str] | None = Field(default=None, max_length=30, description="only these clouds")
    accelerators: list[str] | None = Field(default=None, max_length=60, description="only these accelerator ids")
    max_gpus: int | None = Field(default=None, gt=0, le=65_536, description="largest GPU count tried")
    max_days: float | None = Field(default=None, gt=0, description="train: drop rows slower than this")
    max_usd: float | None = Field(default=None, gt=0, description="train: drop rows dearer than this")
    max_usd_per_hour: float | None = Field(default=None, gt=0, description="serve: drop rows dearer per hour")
    max_latency: str | None = Field(default=None, max_length=30, description="serve: drop rows slower end to end, e.g. 30s")
    spot: bool = Field(default=True, description="include spot offers (with expected preemption overhead)")
    sort: Sort = "cost"

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v):
        return None if v in (None, "") else parse_count(v, "tokens", MAX_TOKENS)

    @field_validator("clouds", "accelerators")
    @classmethod
    def _names(cls, v):
        if v is None:
            return None
        v = [s.strip() for s in v if s and s.strip()]
        if any(len(s) > 60 for s in v):
            raise ValueError("names are at most 60 characters")
        return v or None

    @model_validator(mode="after")
    def _train_needs_tokens(self):
        if self.mode == "train" and self.tokens is None:
            raise ValueError("mode 'train' needs 'tokens' (e.g. 1T)")
        return self


class FitRequest(_Hardware):
    """Will it fit: pre-training, full fine-tuning, LoRA, QLoRA, serving on N GPUs."""

    gpus: int = Field(gt=0, le=MAX_GPUS, description="number of accelerators")
    seq_len: int | None = Field(default=None, gt=0, le=10_000_000, description="fine-tuning sequence length")
    micro_batch: int = Field(default=1, gt=0, le=4096)
    lora_rank: int = Field(default=16, gt=0, le=65_536)
    context: int | None = Field(default=None, gt=0, le=10_000_000, description="serving context length")
    optimizer: str = Field(default="adam", max_length=30)


class ScaleRequest(_Body):
    """The inputs of `flopwise scale` (models by catalog id)."""

    compute: float | str | None = Field(default=None, description="training FLOPs budget, e.g. 5.76e23")
    params: float | str | None = Field(default=None, description="model size, e.g. 70B")
    tokens: float | str | None = Field(default=None, description="training tokens, e.g. 1.4T")
    usd: float | str | None = Field(default=None, description="dollar budget for training, e.g. 10M (needs gpu)")
    models: list[str] | None = Field(default=None, max_length=8, description="trained catalog models to compare with compute-optimal")
    law: str = Field(default="chinchilla-1", max_length=40)
    gpu: str | None = Field(default=None, max_length=100)
    gpus: int = Field(default=1024, gt=0, le=MAX_GPUS)
    mfu: float = Field(default=0.40, gt=0, le=1)
    price_per_gpu_hour: float | None = Field(default=None, gt=0, le=10_000)
    inference_tokens: float | str | None = Field(default=None, description="lifetime inference tokens, e.g. 2T")
    inference_mfu: float = Field(default=0.20, gt=0, le=1)
    target_loss: float | None = Field(default=None, gt=0, le=100)

    @field_validator("compute", "params", "tokens", "usd")
    @classmethod
    def _count(cls, v, info):
        return None if v in (None, "") else parse_count(v, info.field_name, 1e40)

    @field_validator("inference_tokens")
    @classmethod
    def _inf(cls, v):
        if v in (None, ""):
            return None
        if v in (0, "0"):
            return 0.0
        return parse_count(v, "inference_tokens", 1e40)

    @field_validator("gpu", mode="after")
    @classmethod
    def _empty(cls, v):
        return v or None

    @field_validator("models")
    @classmethod
    def _models(cls, v):
        v = [s.strip() for s in (v or []) if s and s.strip()]
        if any(len(s) > 100 for s in v):
            raise ValueError("model ids are at most 100 characters")
        return v or None


class BudgetRequest(_Body):
    """The inputs of `flopwise budget` (bundled prices only): dollars, or GPUs for a number of days."""

    gpu: str = Field(max_length=100, description="accelerator id, e.g. h100-sxm5-80gb")
    usd: float | str | None = Field(default=None, description="dollars to spend, e.g. 1000 or 10M")
    gpus: int | None = Field(default=None, gt=0, le=MAX_GPUS, description="GPUs you have (with days), or to spread usd over")
    days: float | None = Field(default=None, gt=0, le=36_500, description="days you have the GPUs for")
    cloud: str | None = Field(default=None, max_length=40, description="price from this cloud (default: cheapest)")
    price_per_gpu_hour: float | None = Field(default=None, gt=0, le=10_000)
    spot: bool = False
    mfu: float | None = Field(default=None, gt=0, le=1, description="assumed MFU (default 0.40)")
    dataset_tokens: float | str = Field(default=1e9, description="fine-tuning dataset size in tokens, e.g. 1e9 or 500M")
    epochs: float = Field(default=1.0, gt=0, le=1000)
    model: str = Field(default="llama-3-8b", max_length=100, description="catalog model to price serving for")
    input_tokens: int = Field(default=1000, gt=0, le=10_000_000)
    output_tokens: int = Field(default=200, gt=0, le=10_000_000)

    @field_validator("usd", "dataset_tokens")
    @classmethod
    def _count(cls, v, info):
        return None if v in (None, "") else parse_count(v, info.field_name, 1e40)

    @field_validator("cloud", mode="after")
    @classmethod
    def _empty(cls, v):
        return v or None


REQUEST_MODELS: dict[str, type[BaseModel]] = {
    "/api/serve": ServeRequest, "/api/compare": CompareRequest, "/api/fit": FitRequest, "/api/scale": ScaleRequest,
    "/api/budget": BudgetRequest,
}


# ---- the computations ---------------------------------------------------------------------------------


def run_serve(req: ServeRequest) -> dict:
    """What `flopwise serve --json` prints for one accelerator (mirrors cli.serve_cmd.serve)."""
    from flopwise.catalog.prices import fill_default_prices
    from flopwise.cli.serve_cmd import parse_factor, parse_fraction
    from flopwise.plan.serving import ServingRequest, ServingTargets, plan_serving
    from flopwise.web.app import resolve_spec

    p = req.parsed()
    if p["rate_per_s"] is not None and req.concurrency is not None:
        raise FlopwiseError("give either rate or concurrency, not both")
    pf = parse_factor(req.peak_factor, "peak_factor") if req.peak_factor else None
    growth = parse_fraction(req.weekly_growth, "weekly_growth") if req.weekly_growth else None
    if (pf is not None or growth is not None) and p["rate_per_s"] is None:
        raise FlopwiseError("peak_factor and weekly_growth size capacity for a request rate: give rate too")
    spec = resolve_spec(req)
    cluster = req.cluster()
    acc = cluster.accelerator
    if not acc.usable:
        raise FlopwiseError(f"{acc.id} is listed for reference only; its rates are not comparable")
    price, spot_price, price_note = fill_default_prices(acc.id, req.price_per_gpu_hour, req.spot_price_per_gpu_hour)
    sreq = ServingRequest(model=spec, cluster=cluster, input_tokens=req.input_tokens, output_tokens=req.output_tokens,
                          gpus=req.gpus, rate_per_s=p["rate_per_s"], concurrency=req.concurrency,
                          targets=ServingTargets(ttft_p99_s=p["ttft_p99_s"], tpot_s=p["tpot_s"]),
                          weights=p["weights"], kv=p["kv"], usd_per_gpu_hour=price, spot_usd_per_gpu_hour=spot_price)
    out = plan_serving(sreq, pf, growth, req.weeks).model_dump()
    out["price_source"] = price_note
    return out


_compare_cache: OrderedDict[str, dict] = OrderedDict()
_compare_lock = threading.Lock()


def run_compare(req: CompareRequest) -> dict:
    """Every (cloud, accelerator, count) with cost and time and the Pareto front (plan.compare), bundled prices.

    Results are kept for the last 16 distinct requests: a training comparison runs the planner a few
    hundred times (seconds), and the page asks again when a user only changes the sort or a filter back.
    """
    from flopwise.catalog.prices import bundled_catalog
    from flopwise.plan.compare import DEFAULT_MAX_GPUS, compare_serving, compare_training
    from flopwise.web.app import resolve_spec

    key = req.model_dump_json()
    with _compare_lock:
        if key in _compare_cache:
            _compare_cache.move_to_end(key)
            return _compare_cache[key]
    spec = resolve_spec(req)
    catalog = bundled_catalog()
    if req.mode == "train":
        from flopwise.estimate.memory import optimizer_state_bytes

        optimizer_state_bytes(req.optimizer)
        # workers=1: no forked processes from inside a multi-threaded server
        res = compare_training(spec, req.tokens, catalog, seq_len=req.seq_len, global_batch=req.global_batch,
                               precision=req.precision, optimizer=req.optimizer, clouds=req.clouds,
                               accelerators=req.accelerators, max_gpus=req.max_gpus or DEFAULT_MAX_GPUS,
                               max_days=req.max_days, max_usd=req.max_usd, spot=req.spot, sort=req.sort, workers=1)
    else:
        from flopwise.cli.serve_cmd import parse_duration

        p = req.parsed()
        res = compare_serving(spec, req.input_tokens, req.output_tokens, catalog, weights=p["weights"], kv=p["kv"],
                              ttft_p99_s=p["ttft_p99_s"], tpot_s=p["tpot_s"], rate_per_s=p["rate_per_s"],
                              max_gpus=req.max_gpus, clouds=req.clouds, accelerators=req.accelerators,
                              max_usd_per_hour=req.max_usd_per_hour,
                              max_latency_s=parse_duration(req.max_latency, "max_latency") if req.max_latency else None,
                              spot=req.spot, sort=req.sort)
    out = to_jsonable(res.model_dump())
    with _compare_lock:
        _compare_cache[key] = out
        while len(_compare_cache) > 16:
            _compare_cache.popitem(last=False)
    return out


def run_fit(req: FitRequest) -> dict:
    from flopwise.estimate.memory import optimizer_state_bytes
    from flopwise.plan.fit import fit
    from flopwise.web.app import resolve_spec

    optimizer_state_bytes(req.optimizer)
    return fit(resolve_spec(req), req.cluster(), req.gpus, seq_len=req.seq_len, micro_batch=req.micro_batch,
               lora_rank=req.lora_rank, context=req.context, optimizer=req.optimizer).model_dump()


def run_scale(req: ScaleRequest) -> dict:
    """What `flopwise scale --json` prints (mirrors cli.scale_cmd.scale; models by catalog id only)."""
    from flopwise.catalog.models import get_model
    from flopwise.cli.scale_cmd import build_rate
    from flopwise.estimate.scaling import ModelRun, get_law, plan_scaling

    law = get_law(req.law)
    c, n, d, x = req.compute, req.params, req.tokens, req.usd
    if x is not None and req.gpu is None:
        raise FlopwiseError("usd needs gpu to turn dollars into FLOPs (e.g. h100-sxm5-80gb)")
    rate = build_rate(req.gpu, req.gpus, req.mfu, req.inference_mfu, req.price_per_gpu_hour)
    runs: list[ModelRun] = []
    if req.models:
        others = [k for k, v in (("compute", c), ("params", n), ("usd", x)) if v is not None]
        if others:
            raise FlopwiseError(f"models compares trained models; it does not combine with {', '.join(others)}")
        if d is not None and len(req.models) > 1:
            raise FlopwiseError("tokens with models overrides one model's training tokens; give a single model")
        for name in req.models:
            spec = get_model(name)
            tokens = d if d is not None else spec.training_tokens
            if tokens is None:
                raise FlopwiseError(f"model '{name}' has no training tokens in the catalog; give them with tokens")
            runs.append(ModelRun(name=name, params=float(spec.params_published or spec.params_total), tokens=float(tokens)))
        d = None
    result = plan_scaling(law, compute=c, params=n, tokens=d, usd=x, models=runs, rate=rate,
                          inference_tokens=req.inference_tokens, target_loss=req.target_loss)
    out = asdict(result)
    out["plot_file"] = None
    return out


def run_budget(req: BudgetRequest) -> dict:
    """What `flopwise budget --json` prints (bundled price catalog; same function as the CLI)."""
    from flopwise.catalog.prices import bundled_catalog
    from flopwise.plan.budget import budget

    res = budget(req.gpu, req.usd, req.gpus, req.days, req.price_per_gpu_hour, req.cloud, req.spot, bundled_catalog(),
                 req.mfu, req.dataset_tokens, req.epochs, req.model, req.input_tokens, req.output_tokens)
    return res.model_dump()


# ---- routes ---------------------------------------------------------------------------------------------


def register(app: FastAPI) -> None:
    have = available()
    if have["serve"]:
        @app.post("/api/serve", tags=["serve"],
                  summary="`flopwise serve --json`: layout, TTFT/TPOT, throughput, memory and $ per million tokens")
        def post_serve(req: ServeRequest) -> JSONResponse:
            return JSONResponse(to_jsonable(run_serve(req)))

    if have["compare"]:
        @app.post("/api/compare", tags=["compare"],
                  summary="every cloud x accelerator x GPU count with cost and time, and the Pareto front")
        def post_compare(req: CompareRequest) -> JSONResponse:
            return JSONResponse(run_compare(req))

    if have["fit"]:
        @app.post("/api/fit", tags=["fit"],
                  summary="will it fit: pre-training, full fine-tune, LoRA, QLoRA and serving on N GPUs")
        def post_fit(req: FitRequest) -> JSONResponse:
            return JSONResponse(to_jsonable(run_fit(req)))

    if have["budget"]:
        @app.post("/api/budget", tags=["budget"],
                  summary="`flopwise budget --json`: GPU-hours, compute-optimal model, LoRA-able model, tokens servable")
        def post_budget(req: BudgetRequest) -> JSONResponse:
            return JSONResponse(to_jsonable(run_budget(req)))

    if have["scale"]:
        @app.post("/api/scale", tags=["scale"],
                  summary="`flopwise scale --json`: compute-optimal size, tokens, loss, cost; curves for the charts")
        def post_scale(req: ScaleRequest) -> JSONResponse:
            return JSONResponse(to_jsonable(run_scale(req)))


def catalog_extras() -> dict:
    """Choices the optional sections' forms need (laws, clouds, precisions)."""
    out: dict = {}
    have = available()
    if have["scale"]:
        from flopwise.estimate.scaling import DEFAULT_LAW, law_ids

        out["laws"] = [DEFAULT_LAW] + [x for x in law_ids() if x != DEFAULT_LAW]
    if have["compare"]:
        from flopwise.catalog.prices import bundled_catalog

        out["clouds"] = bundled_catalog().clouds()
    if have["serve"]:
        from flopwise.estimate.serving import KV_PRECISIONS, WEIGHT_PRECISIONS

        out["weight_precisions"] = list(WEIGHT_PRECISIONS)
        out["kv_precisions"] = list(KV_PRECISIONS)
    return json.loads(json.dumps(out))
