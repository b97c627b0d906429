"""The summary `flopwise model show` prints: counts, FLOPs per token, memory per precision."""

from __future__ import annotations

from pydantic import BaseModel

from flopwise.estimate.flops import decode_flops_per_token, prefill_flops, training_flops_per_token
from flopwise.estimate.memory import kv_cache_bytes_per_token, model_state_bytes
from flopwise.spec.model import ModelSpec
from flopwise.spec.precision import PRECISIONS, bytes_per


class ModelInfo(BaseModel):
    name: str
    family: str
    source: str
    architecture: dict
    params_total: int
    params_active: int
    params_embedding: int
    params_non_embedding: int
    params_published: float | None
    training_flops_per_token: dict
    prefill_flops_per_token: float
    decode_flops_per_token: float
    context_for_flops: int
    weights_bytes: dict[str, float]
    training_state_bytes_adam: float
    kv_cache_bytes_per_token: dict[str, float]


def model_info(model: ModelSpec, context: int | None = None) -> ModelInfo:
    ctx = context or model.max_seq_len
    tr = training_flops_per_token(model, ctx)
    arch = model.model_dump(exclude={"name", "family", "source", "params_published"}, exclude_none=True)
    return ModelInfo(
        name=model.name, family=model.family, source=model.source, architecture=arch,
        params_total=model.params_total, params_active=model.params_active,
        params_embedding=model.params_embedding, params_non_embedding=model.non_embedding_params(),
        params_published=model.params_published,
        training_flops_per_token={
            "dense": tr.dense_flops, "lm_head": tr.lm_head_flops, "attention": tr.attention_flops, "total": tr.total_flops,
        },
        prefill_flops_per_token=prefill_flops(model, ctx).total_flops / ctx,
        decode_flops_per_token=decode_flops_per_token(model, ctx).total_flops,
        context_for_flops=ctx,
        weights_bytes={p: model.params_total * bytes_per(p) for p in PRECISIONS if p != "tf32"},
        training_state_bytes_adam=model_state_bytes(model.params_total).total_bytes,
        kv_cache_bytes_per_token={p: kv_cache_bytes_per_token(model, p) for p in ("bf16", "fp8", "int4")},
    )
