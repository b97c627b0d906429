"""ParallelPlan: how one training job is split over the cluster."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flopwise.errors import FlopwiseError

Sharding = Literal["none", "distributed-optimizer", "zero1", "zero2", "zero3", "fsdp", "hsdp"]
Recompute = Literal["none", "selective", "full", "block"]

SHARDINGS: tuple[str, ...] = ("none", "distributed-optimizer", "zero1", "zero2", "zero3", "fsdp", "hsdp")
# block: full recomputation of only the first k layers of each model chunk (Megatron-LM
# --recompute-method block), the rest keep their activations; the planner picks the smallest k that fits.
RECOMPUTES: tuple[str, ...] = ("none", "selective", "full", "block")

# ZeRO stage each sharding scheme amounts to (what it shards: 1 optimizer, 2 + gradients, 3 + weights).
ZERO_STAGE: dict[str, int] = {
    "none": 0,
    "distributed-optimizer": 1,
    "zero1": 1,
    "zero2": 2,
    "zero3": 3,
    "fsdp": 3,
    "hsdp": 3,
}
RECOMPUTE_CODE: dict[str, int] = {"none": 0, "selective": 1, "full": 2, "block": 3}


class ParallelPlan(BaseModel):
    """Degrees of parallelism and the memory/compute trade-offs of one training layout."""

    model_config = ConfigDict(frozen=True)

    tp: int = Field(default=1, gt=0, description="tensor parallel")
    pp: int = Field(default=1, gt=0, description="pipeline parallel")
    dp: int = Field(default=1, gt=0, description="data parallel (incl. sharded data parallel)")
    cp: int = Field(default=1, gt=0, description="context (sequence-dimension) parallel")
    ep: int = Field(default=1, gt=0, description="expert parallel (carved out of dp)")
    vpp: int = Field(default=1, gt=0, description="virtual pipeline stages (model chunks) per rank")
    micro_batch: int = Field(default=1, gt=0)
    sharding: Sharding = "distributed-optimizer"
    recompute: Recompute = "selective"
    recompute_layers: int | None = Field(
        default=None, gt=0,
        description="recompute=block: layers of each model chunk recomputed in full; None = as few as fit")
    sequence_parallel: bool = True
    tp_overlap: bool = Field(default=False, description="tensor-parallel collectives overlapped with the GEMMs "
                             "(Megatron --tp-comm-overlap, torchtitan async TP); needs sequence parallel")
    ep_overlap: bool = Field(default=False, description="expert all-to-all overlapped with another micro-batch's "
                             "compute (DeepSeek DualPipe, Megatron --overlap-moe-expert-parallel-comm)")
    precision: Literal["bf16", "fp16", "fp8", "fp32"] = "bf16"
    flash_attention: bool = True
    flash_version: Literal[2, 3] = Field(
        default=2, description="fused attention kernel class: 2 = FlashAttention-2 / xformers / SDPA, 3 = "
        "FlashAttention-3 or cuDNN fused attention (Hopper; elsewhere the generation's kernel is used)")

    @model_validator(mode="after")
    def _layers_need_block(self) -> "ParallelPlan":
        if self.recompute_layers is not None and self.recompute != "block":
            raise ValueError("recompute_layers is only meaningful with recompute=block")
        return self

    @property
    def gpus(self) -> int:
        return self.tp * self.pp * self.dp * self.cp

    def label(self) -> str:
        parts = [f"tp={self.tp}", f"pp={self.pp}", f"dp={self.dp}"]
        if self.cp > 1:
            parts.append(f"cp={self.cp}")
        if self.ep > 1:
            parts.append(f"ep={self.ep}")
        if self.vpp > 1:
            parts.append(f"vpp={self.vpp}")
        rec = self.recompute
        if rec == "block" and self.recompute_layers is not None:
            rec = f"block:{self.recompute_layers}"
        parts += [f"mb={self.micro_batch}", self.sharding, f"recompute={rec}"]
        if self.tp > 1 and self.sequence_parallel:
            parts.append("sp")
        if self.tp > 1 and self.tp_overlap:
            parts.append("tp-overlap")
        if self.ep > 1 and self.ep_overlap:
            parts.append("ep-overlap")
        if not self.flash_attention:
            parts.append("no-flash")
        elif self.flash_version == 3:
            parts.append("fa3")
        return " ".join(parts)


PLAN_KEYS = {
    "tp": int, "pp": int, "dp": int, "cp": int, "ep": int, "vpp": int,
    "mb": int, "micro_batch": int, "sharding": str, "recompute": str, "sp": str, "sequence_parallel": str,
    "precision": str, "flash": str, "flash_attention": str, "recompute_layers": int,
    "tp_overlap": str, "async_tp": str, "ep_overlap": str, "a2a_overlap": str,
}


def _bool(text: str, key: str) -> bool:
    t = text.lower()
    if t in {"1", "true", "yes", "on"}:
        return True
    if t in {"0", "false", "no", "off"}:
        return False
    raise FlopwiseError(f"plan key '{key}' takes true/false, got '{text}'")


def parse_plan_spec(text: str) -> dict:
    """Parse 'tp=8,pp=16,mb=1,sharding=zero1,recompute=full' into ParallelPlan fields (partial allowed)."""
    from flopwise.errors import close_matches

    out: dict = {}
    seen: set[str] = set()
    for item in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in item:
            raise FlopwiseError(f"plan item '{item}' is not key=value (e.g. tp=8,pp=16,mb=1)")
        key, value = (s.strip() for s in item.split("=", 1))
        key = key.lower().replace("-", "_")
        if key not in PLAN_KEYS:
            near = close_matches(key, PLAN_KEYS)
            hint = f"; did you mean {near[0]}?" if near else ""
            raise FlopwiseError(f"unknown plan key '{key}'; accepted: {', '.join(PLAN_KEYS)}{hint}")
        if key in seen:
            raise FlopwiseError(f"plan key '{key}' is given twice in '{text}'; give each key once")
        seen.add(key)
        if PLAN_KEYS[key] is int:
            try:
                n = int(value)
            except ValueError:
                raise FlopwiseError(f"plan key '{key}' needs a positive integer, got '{value}'") from None
            if n <= 0:
                raise FlopwiseError(f"plan key '{key}' needs a positive integer, got {n}")
            out["micro_batch" if key == "mb" else key] = n
        elif key in {"sp", "sequence_parallel"}:
            out["sequence_parallel"] = _bool(value, key)
        elif key in {"flash", "flash_attention"}:
            if value.strip() in {"2", "3"}:  # the kernel class: flash=3 for FlashAttention-3 / cuDNN
                out["flash_attention"], out["flash_version"] = True, int(value)
            elif value.strip().lower() in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
                out["flash_attention"] = _bool(value, key)
            else:
                raise FlopwiseError(f"plan key '{key}' takes true/false, or 2 / 3 for the kernel class "
                                    f"(FlashAttention-2, FlashAttention-3 / cuDNN), got '{value}'")
        elif key in {"tp_overlap", "async_tp"}:
            out["tp_overlap"] = _bool(value, key)
        elif key in {"ep_overlap", "a2a_overlap"}:
            out["ep_overlap"] = _bool(value, key)
        elif key == "sharding":
            if value not in SHARDINGS:
                raise FlopwiseError(f"unknown sharding '{value}'; accepted: {', '.join(SHARDINGS)}")
            out["sharding"] = value
        elif key == "recompute":
            if value not in RECOMPUTES:
                raise FlopwiseError(f"unknown recompute '{value}'; accepted: {', '.join(RECOMPUTES)}")
            out["recompute"] = value
        elif key == "precision":
            if value not in {"bf16", "fp16", "fp8", "fp32"}:
                raise FlopwiseError(f"unknown precision '{value}'; accepted: bf16, fp16, fp8, fp32")
            out["precision"] = value
    if "recompute_layers" in out and out.get("recompute", "block") != "block":
        raise FlopwiseError("plan key 'recompute_layers' needs recompute=block")
    if "recompute_layers" in out:
        out["recompute"] = "block"
    return out
