"""Published runs in the validation schema (shared/validation/README.md): typed rows from any CSV."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ValidationError, field_validator

from flopwise.catalog._files import data_path, read_csv_rows
from flopwise.errors import FlopwiseError

BUNDLED_TRAINING_RUNS = "training_public.csv"
BUNDLED_INFERENCE_RUNS = "inference_public.csv"


class _Row(BaseModel):
    id: str
    # set by load_runs (never a CSV column) when a value of the row is not valid: the row is reported as
    # skipped with this reason instead of sinking the whole file
    invalid: str | None = None
    source: str = ""
    model: str = ""
    params_b: float | None = None
    active_params_b: float | None = None
    layers: int | None = None
    hidden: int | None = None
    ffn_hidden: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    vocab: int | None = None
    experts: int | None = None
    experts_per_token: int | None = None
    accelerator: str | None = None
    num_accelerators: int | None = None
    tp: int | None = None
    pp: int | None = None
    notes: str = ""

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_none(cls, v, info):
        if isinstance(v, str) and v.strip() == "":
            return "" if info.field_name in ("source", "model", "notes") else None
        return v.strip() if isinstance(v, str) else v

    @field_validator("*", mode="after")
    @classmethod
    def _as_the_schema_spells_it(cls, v, info):
        # columns with a fixed set of values accept the spellings sources use (see the tables below)
        table = SPELLINGS.get(info.field_name)
        return _from(table, info.field_name, v) if table and isinstance(v, str) else v

    @field_validator("*", mode="after")
    @classmethod
    def _counts_and_measures_are_positive(cls, v, info):
        # every number in the schema is a count, a size or a measurement: zero, negative or infinite is a typo
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 < v < math.inf:
            raise ValueError(f"must be a positive finite number, got {v}")
        return v


# Spellings of a training run's matmul precision seen in published tables, to the schema's values.
_TRAINING_PRECISION = {
    "bf16": "bf16", "bfloat16": "bf16", "amp_bf16": "bf16", "bf16-mixed": "bf16", "bf16_mixed": "bf16",
    "mixed": "bf16", "fp16": "fp16", "float16": "fp16", "amp_fp16": "fp16", "fp16-mixed": "fp16", "16-bit": "fp16",
    "fp32": "fp32", "float32": "fp32", "tf32": "fp32",
}


def training_precision(text: str | None) -> str | None:
    """The schema's precision (bf16, fp16, fp8, fp32) for a published spelling ('BF16', 'amp_bf16',
    'FP8 (TE)', 'fp8_hybrid'); None when blank; a FlopwiseError naming the accepted values otherwise."""
    if text is None:
        return None
    t = text.strip().lower()
    if "fp8" in t or "float8" in t or "e4m3" in t:
        return "fp8"
    key = t.split()[0] if t else t
    if key in _TRAINING_PRECISION:
        return _TRAINING_PRECISION[key]
    raise FlopwiseError(f"unknown training precision '{text}'; accepted: bf16, fp16, fp8, fp32 (and spellings such "
                        "as amp_bf16, bf16-mixed, FP8 (TE))")


# Spellings of sharding and recomputation seen in framework configs, to the schema's values.
_SHARDING = {
    "none": "none", "ddp": "none", "no_shard": "none", "no-shard": "none",
    "distributed-optimizer": "distributed-optimizer", "distributed_optimizer": "distributed-optimizer",
    "distopt": "distributed-optimizer",
    "zero1": "zero1", "zero-1": "zero1", "zero_1": "zero1", "zero stage 1": "zero1", "shard_grad_op": "zero2",
    "zero2": "zero2", "zero-2": "zero2", "zero_2": "zero2", "zero stage 2": "zero2",
    "zero3": "zero3", "zero-3": "zero3", "zero_3": "zero3", "zero stage 3": "zero3",
    "fsdp": "fsdp", "full_shard": "fsdp", "fsdp2": "fsdp", "hsdp": "hsdp", "hybrid_shard": "hsdp",
}
_RECOMPUTE = {
    "none": "none", "false": "none", "no": "none", "off": "none", "0": "none",
    "selective": "selective", "full": "full", "true": "full", "yes": "full", "on": "full", "1": "full",
    "block": "block",
}


def _from(table: dict[str, str], what: str, text: str | None) -> str | None:
    if text is None:
        return None
    key = text.strip().lower()
    if key not in table:
        raise ValueError(f"unknown {what} '{text}'; accepted: {', '.join(sorted(set(table.values())))}")
    return table[key]


class TrainingRun(_Row):
    """One measured training run (blank = unknown)."""

    seq_len: int | None = None
    global_batch_seqs: int | None = None
    precision: str | None = None
    dp: int | None = None
    cp: int | None = None
    ep: int | None = None
    vpp: int | None = None
    micro_batch: int | None = None
    sharding: str | None = None
    recompute: str | None = None
    sequence_parallel: bool | None = None
    measured_tflops_per_gpu: float | None = None
    flops_convention: Literal["model", "hardware"] | None = None
    measured_mfu: float | None = None
    measured_hfu: float | None = None
    measured_tokens_per_s_per_gpu: float | None = None
    measured_step_time_s: float | None = None
    training_tokens: float | None = None
    measured_gpu_hours: float | None = None
    flash_attention: bool | None = None  # optional extension column (not in the shared schema)

    @field_validator("precision", mode="after")
    @classmethod
    def _precision(cls, v):
        try:
            return training_precision(v)
        except FlopwiseError as exc:
            raise ValueError(str(exc)) from None


_SCENARIO = {
    "static-batch": "static-batch", "static_batch": "static-batch", "static": "static-batch", "batch": "static-batch",
    "offline": "offline", "throughput": "offline", "server": "server", "online": "server", "serving": "server",
    "min-latency": "min-latency", "min_latency": "min-latency", "latency": "min-latency",
}
_PER = {"gpu": "gpu", "device": "gpu", "accelerator": "gpu", "system": "system", "node": "system", "server": "system",
        "replica": "system", "group": "system"}


class InferenceRun(_Row):
    """One measured inference benchmark (blank = unknown)."""

    engine: str | None = None
    weight_precision: str | None = None
    kv_precision: str | None = None
    input_len: int | None = None
    output_len: int | None = None
    batch_size: int | None = None
    concurrency: int | None = None
    request_rate: float | None = None
    scenario: str | None = None
    measured_output_tokens_per_s: float | None = None
    measured_total_tokens_per_s: float | None = None
    per: str | None = None
    measured_ttft_ms: float | None = None
    measured_tpot_ms: float | None = None
    measured_e2e_ms: float | None = None
    latency_statistic: str | None = None


# Value tables by column: training sharding and recompute, inference scenario and per.
SPELLINGS: dict[str, dict[str, str]] = {"sharding": _SHARDING, "recompute": _RECOMPUTE, "scenario": _SCENARIO,
                                        "per": _PER}


def runs_kind(header: list[str]) -> str:
    """'training' or 'inference' from a CSV header: whichever kind's own columns it has."""
    cols = set(header)
    inference = cols & set(InferenceRun.model_fields) - set(_Row.model_fields)
    training = cols & set(TrainingRun.model_fields) - set(_Row.model_fields)
    if inference and not training:
        return "inference"
    if training and not inference:
        return "training"
    if "scenario" in cols or "measured_output_tokens_per_s" in cols:  # the full inference header
        return "inference"
    if "global_batch_seqs" in cols or "measured_tflops_per_gpu" in cols:  # the full training header
        return "training"
    raise FlopwiseError("runs file has neither training columns (global_batch_seqs, measured_tflops_per_gpu, "
                        "measured_mfu, ...) nor inference columns (scenario, measured_output_tokens_per_s, ...); "
                        "see shared/validation/README.md")


def load_runs(path: Path | None = None, kind: str | None = None) -> tuple[str, list[TrainingRun] | list[InferenceRun]]:
    """Read a runs CSV; returns its kind and typed rows. A bad row is one clear error naming its id."""
    if path is None:
        path = data_path(BUNDLED_INFERENCE_RUNS if kind == "inference" else BUNDLED_TRAINING_RUNS)
    rows = read_csv_rows(path)
    if not rows:
        hint = "" if path.suffix.lower() == ".csv" else " (a CSV file in the validation schema is expected)"
        raise FlopwiseError(f"{path} has no rows{hint}")
    header = list(rows[0].keys())
    if "id" not in header:
        raise FlopwiseError(f"{path} has no 'id' column; see shared/validation/README.md for the schema")
    kind = runs_kind(header)
    cls = InferenceRun if kind == "inference" else TrainingRun
    out = []
    for n, r in enumerate(rows, start=2):
        fields = {k: v for k, v in r.items() if k in cls.model_fields and k != "invalid"}
        try:
            out.append(cls(**fields))
        except ValidationError as exc:
            err = exc.errors()[0]
            msg = err["msg"].removeprefix("Value error, ")
            row_id = (r.get("id") or "").strip() or f"line {n}"
            out.append(cls.model_construct(id=row_id, invalid=f"line {n}, column '{err['loc'][0]}': {msg}"))
    return kind, out
