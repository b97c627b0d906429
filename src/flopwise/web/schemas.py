"""Request bodies of the web API (pydantic): bounds and types a person can read in the 422 message.

Every model forbids unknown fields, so a typo ("gpu_count") is rejected with the accepted names instead
of being silently ignored. Models are named by catalog id or pasted as config.json text; there is no
field that takes a file path.
"""

from __future__ import annotations

import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from flopwise.errors import FlopwiseError

# A Hugging Face config.json is a few KiB (DeepSeek-V3's is 1.7 KiB); 128 KiB leaves room for the
# long ones (label maps, quantisation blocks) and is far below the request-body limit in app.py.
MAX_CONFIG_CHARS = 128 * 1024
MAX_GPUS = 1 << 20
MAX_TOKENS = 1e18

Precision = Literal["bf16", "fp16", "fp8", "fp32"]


def parse_count(value: float | int | str, name: str, upper: float) -> float:
    """Numbers like 1e12, "1T", "300B", "2_000"; positive and at most `upper`."""
    from flopwise.cli.common import parse_number

    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number like 1e12 or 1T")
    try:
        n = float(value) if isinstance(value, (int, float)) else parse_number(str(value), name)
    except FlopwiseError as exc:
        raise ValueError(str(exc)) from None
    if not (n > 0):
        raise ValueError(f"{name} must be a positive number, got {n:g}")
    if n > upper:
        raise ValueError(f"{name} must be at most {upper:g}, got {n:g}")
    return n


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_booleans_for_numbers(cls, v, info):
        # JSON true/false would otherwise pass as 1/0 for a count ("gpus": true = one GPU)
        if isinstance(v, bool) and "bool" not in str(cls.model_fields[info.field_name].annotation):
            raise ValueError(f"{info.field_name} takes a number or text, not {str(v).lower()}")
        return v


class ModelRef(_Body):
    """A model: a catalog id (`model`) or the text of a Hugging Face config.json (`hf_config`)."""

    model: str | None = Field(
        default=None, max_length=100, description="catalog model id or alias, e.g. llama-3-70b (see GET /api/catalog)",
        examples=["llama-3-70b"],
    )
    hf_config: str | None = Field(
        default=None, max_length=MAX_CONFIG_CHARS,
        description="the text of a Hugging Face config.json, pasted (parsed in memory, never fetched or read from disk)",
    )
    hf_name: str | None = Field(default=None, max_length=200, description="label for a pasted config (default: its _name_or_path)")

    @model_validator(mode="after")
    def _one_model(self):
        if self.model and self.hf_config:
            raise ValueError("give either 'model' (a catalog id) or 'hf_config' (a pasted config.json), not both")
        if not self.model and not self.hf_config:
            raise ValueError("give 'model' (a catalog id such as llama-3-70b) or 'hf_config' (the text of a config.json)")
        if self.hf_config:
            try:
                cfg = json.loads(self.hf_config)
            except json.JSONDecodeError as exc:
                raise ValueError(f"hf_config is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
            except RecursionError:
                raise ValueError("hf_config nests too deeply to be a config.json") from None
            if not isinstance(cfg, dict):
                raise ValueError("hf_config must be a JSON object (the contents of config.json)")
        return self

    def config_dict(self) -> dict | None:
        return json.loads(self.hf_config) if self.hf_config else None


class ModelInfoRequest(ModelRef):
    context: int | None = Field(default=None, gt=0, le=10_000_000, description="context length for attention FLOPs (default: the model's)")


class TrainRequest(ModelRef):
    """The inputs of `flopwise train`, minus the ones that name files."""

    gpu: str | None = Field(default=None, max_length=100, description="accelerator id, e.g. h100-sxm5-80gb", examples=["h100-sxm5-80gb"])
    system: str | None = Field(default=None, max_length=100, description="bundled system id, e.g. dgx-h100")
    gpus: int = Field(gt=0, le=MAX_GPUS, description="number of accelerators", examples=[64])
    tokens: float | str = Field(description="training tokens: a number or text like 1T, 300B, 1.5e12", examples=["1T"])
    global_batch: int | None = Field(default=None, gt=0, le=100_000_000, description="sequences per optimizer step (default ~4M tokens, ~1k tokens per GPU beyond 4096 GPUs)")
    seq_len: int | None = Field(default=None, gt=0, le=10_000_000, description="training sequence length (default: the model's context, at most 8192)")
    precision: Precision = "bf16"
    optimizer: str = Field(default="adam", max_length=30, description="adam, adamw, adam-8bit, sgd, adafactor, lion")
    mfu: float | None = Field(default=None, gt=0, le=1, description="skip the planner and assume this MFU (what-if arithmetic)")
    plan: str | None = Field(default=None, max_length=300, description="evaluate one plan, e.g. tp=8,pp=4,mb=1,sharding=zero1,recompute=full")
    price_per_gpu_hour: float | None = Field(default=None, gt=0, le=10_000, description="$ per GPU-hour (default: cheapest catalog on-demand price)")
    gpus_per_node: int | None = Field(default=None, gt=0, le=1024)
    nvlink_gb_per_s: float | None = Field(default=None, gt=0, le=1e6, description="intra-node bandwidth per GPU, one direction, GB/s")
    network_gbit_per_s: float | None = Field(default=None, gt=0, le=1e6, description="network per GPU, one direction, Gbit/s")
    top: int = Field(default=5, ge=1, le=20, description="how many ranked plans to return")
    objective: Literal["time", "cost"] = Field(default="time", description="time: fastest plan on `gpus`; cost: cheapest per token using up to `gpus`")
    max_days: float | None = Field(default=None, gt=0, le=1e5, description="with objective cost: finish within this many days")
    failures: bool = Field(default=True, description="price in interruptions, checkpoints and restarts (false = --no-failures)")
    failure_model: str | None = Field(default=None, max_length=100, description="bundled failure model id (default: Llama 3 paper, 16k H100)")
    async_checkpoint: bool = Field(default=False, description="checkpoints copied to host memory, written in the background")
    max_job_hours: float | None = Field(default=None, gt=0, le=1e6, description="job-length limit of the cluster (resubmissions are counted)")
    simulate: int = Field(default=0, ge=0, le=20_000, description="Monte Carlo runs of failure times (p50/p90 completion)")

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v):
        return parse_count(v, "tokens", MAX_TOKENS)

    @field_validator("plan", "gpu", "system", "failure_model", mode="after")
    @classmethod
    def _empty_is_none(cls, v):
        return v or None

    @model_validator(mode="after")
    def _hardware(self):
        if not self.gpu and not self.system:
            raise ValueError("give 'gpu' (an accelerator id such as h100-sxm5-80gb) or 'system' (such as dgx-h100)")
        if self.simulate and not self.failures:
            raise ValueError("simulate needs the failure model; set failures to true")
        return self
