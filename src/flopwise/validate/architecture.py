"""The model a validation row describes: its architecture columns, with documented fallbacks.

Shared by the training and inference scorers. What a row leaves blank is assumed by fixed rules (never
per row) and each assumption is returned as a note, so the report says what was guessed.
"""

from __future__ import annotations

import re

from pydantic import ValidationError

from flopwise.catalog.models import pydantic_message
from flopwise.catalog.runs import InferenceRun, TrainingRun
from flopwise.errors import FlopwiseError
from flopwise.spec.model import ModelSpec

# Vocabulary when a row leaves it blank: GPT-2 BPE padded for Megatron (GELU, GPT-style rows) or the
# Llama/Mistral tokenizer (SwiGLU rows).
GPT_VOCAB = 51200
LLAMA_VOCAB = 32000
# Shape of a dense model known only by its parameter count: Llama-like (SwiGLU with ffn = 8/3·d, head
# dimension 128, d / layers = 128 as in Llama 2 7B and 13B), so that 12·layers·d² ≈ parameters.
ASPECT_RATIO = 128
HEAD_DIM = 128
GQA_KV_HEADS = 8  # the usual grouped-query choice (Llama 2 70B, Llama 3, Mistral, Qwen2.5-72B)


def shape_for_params(params: float, vocab: int = LLAMA_VOCAB, kv_heads: int | None = None) -> dict:
    """Layers, width, heads and MLP size of a Llama-like dense model with about `params` parameters
    (input and output embeddings included, MLP size rounded up to a multiple of 256 as Llama does);
    `kv_heads` for grouped-query attention (None: one KV head per query head)."""
    import math

    unit = HEAD_DIM * (kv_heads or 1)  # grouped-query heads come in whole groups
    d = (ASPECT_RATIO * params / 12.0) ** (1.0 / 3.0)
    d = max(unit, round(d / unit) * unit)
    ffn = 256 * math.ceil(8.0 * d / 3.0 / 256)
    kv_dim = d if kv_heads is None else kv_heads * HEAD_DIM
    per_layer = 2.0 * d * d + 2.0 * d * kv_dim + 3.0 * d * ffn
    layers = max(1, round((params - 2.0 * vocab * d) / per_layer))
    return {"layers": layers, "hidden": d, "heads": d // HEAD_DIM, "ffn_hidden": ffn}


GATED_WORDS = ("swiglu", "geglu", "reglu", "gated mlp", "gated-mlp", "glu mlp")
PLAIN_WORDS = ("gelu mlp", "relu mlp", "squared-relu", "squared relu", "gelu, ", "gelu;", "gelu 4h")


def _is_plain_mlp(row, shape: dict) -> bool:
    """Two-matrix (GELU/ReLU) MLP rather than a gated three-matrix one. The schema names the activation
    in the notes (PaLM's SwiGLU has ffn = 4·d, so the ratio alone misleads); else ffn = 4·d means GELU."""
    text = (row.notes or "").lower()
    if any(w in text for w in GATED_WORDS):
        return False
    if any(w in text for w in PLAIN_WORDS):
        return True
    return shape["ffn_hidden"] == 4 * shape["hidden"]


def model_from_row(row: TrainingRun | InferenceRun, max_seq_len: int = 2048) -> tuple[ModelSpec, list[str]]:
    """A ModelSpec from the row's architecture columns (MLP kind inferred from ffn_hidden / hidden) and the
    notes on what was assumed. Rows with no shape but a parameter count get a Llama-like shape."""
    notes: list[str] = []
    if (spec := _catalog_model(row, max_seq_len)) is not None:
        return spec, [f"architecture: flopwise's catalog model of that name ({spec.name})"]
    shape = {c: getattr(row, c) for c in ("layers", "hidden", "heads", "ffn_hidden")}
    missing = [c for c, v in shape.items() if v is None]
    kv_heads = row.kv_heads
    if missing:
        if len(missing) < 4 or not row.params_b or (row.experts or 0) > 0:
            raise FlopwiseError(f"architecture not given ({', '.join(missing)})")
        text = (row.notes or "").lower()
        gqa = any(w in text for w in ("gqa", "grouped-query", "grouped query"))
        kv_heads = GQA_KV_HEADS if gqa else None
        shape = shape_for_params(row.params_b * 1e9, row.vocab or LLAMA_VOCAB, kv_heads)
        if kv_heads and shape["heads"] % kv_heads:
            kv_heads = None
        notes.append(f"architecture not given: assumed a Llama-like shape for {row.params_b:g}B "
                     f"({shape['layers']} layers, d {shape['hidden']}, ffn {shape['ffn_hidden']}"
                     + (f", {kv_heads} KV heads as the notes name GQA" if kv_heads else "") + ")")
    gelu = _is_plain_mlp(row, shape)
    vocab = row.vocab
    if vocab is None:
        vocab = GPT_VOCAB if gelu else LLAMA_VOCAB
        notes.append(f"vocab not given: assumed {vocab}")
    text = (row.notes or "").lower()
    head_dim = None
    if (hd := re.search(r"head[_ ]dim(?:ension)?\s*[=:]?\s*(\d{2,4})", text)) and shape["heads"]:
        if int(hd.group(1)) * shape["heads"] != shape["hidden"]:
            head_dim = int(hd.group(1))  # attention wider (or narrower) than d_model, named in the notes
    parallel = "parallel attention" in text or "parallel attn" in text or "parallel_attn" in text
    experts = row.experts or 0
    moe = _moe_from_notes(text, shape["layers"]) if experts > 0 else {}

    def build(k: int) -> ModelSpec:
        try:
            return ModelSpec(
                name=row.model or row.id, n_layers=shape["layers"], d_model=shape["hidden"], n_heads=shape["heads"],
                n_kv_heads=kv_heads, head_dim=head_dim, ffn_hidden=shape["ffn_hidden"], mlp="gelu" if gelu else "swiglu",
                vocab_size=vocab, max_seq_len=max_seq_len, tied_embeddings=gelu,
                norm="layernorm" if gelu else "rmsnorm", attn_bias=gelu, mlp_bias=gelu, parallel_attn_mlp=parallel,
                n_experts=experts, experts_per_token=k, **moe,
            )
        except ValidationError as exc:  # the columns do not make a model
            raise FlopwiseError(pydantic_message(exc, "the row's architecture")) from None

    k = row.experts_per_token or 0
    if experts and not k:
        # routed experts per token not given: the count that matches the published active parameters,
        # else top-2 (GShard, Switch-style top-1 is rarer at scale)
        cands = range(1, experts + 1)
        if row.active_params_b:
            k = min(cands, key=lambda c: abs(build(c).params_active - row.active_params_b * 1e9))
            notes.append(f"experts per token not given: {k} matches the published active parameters")
        else:
            k = min(2, experts)
            notes.append(f"experts per token not given: assumed {k}")
    spec = build(k)
    if row.active_params_b and spec.is_moe:
        off = spec.params_active / (row.active_params_b * 1e9) - 1
        if abs(off) > 0.10:
            notes.append(f"active parameters from the columns and notes: {spec.params_active / 1e9:.1f}B, "
                         f"{off:+.0%} off the published {row.active_params_b:g}B")
    return spec, notes


def _catalog_model(row: TrainingRun | InferenceRun, max_seq_len: int) -> ModelSpec | None:
    """The catalog model the row names, when every shape column the row gives agrees with it. The catalog
    holds what the schema's columns cannot (MLA attention, shared experts, leading dense layers, biases,
    tied embeddings), each with its source."""
    from flopwise.catalog.models import find_model_by_name, get_model

    mid = find_model_by_name(row.model or "")
    if mid is None:
        return None
    spec = get_model(mid)
    pairs = (("layers", spec.n_layers), ("hidden", spec.d_model), ("heads", spec.n_heads),
             ("ffn_hidden", spec.ffn_hidden), ("kv_heads", spec.n_kv_heads or spec.n_heads),
             ("vocab", spec.vocab_size), ("experts", spec.n_experts or None),
             ("experts_per_token", spec.experts_per_token or None))
    if any(getattr(row, col) is not None and getattr(row, col) != val for col, val in pairs):
        return None
    return spec.model_copy(update={"max_seq_len": max(spec.max_seq_len, max_seq_len)})


def _moe_from_notes(text: str, layers: int) -> dict:
    """Shared experts and leading dense layers of a MoE model, which the schema keeps in the notes:
    "2 shared experts", "first 3 layers dense", "1 dense layer", "dense ffn 18432"."""

    out: dict = {}
    if m := re.search(r"(\d+)\s+shared[\s-]+experts?", text):
        out["n_shared_experts"] = int(m.group(1))
    m = (re.search(r"first\s+(\d+)\s+(?:transformer\s+)?layers?\s+(?:are\s+|use\s+(?:a\s+)?)?dense", text)
         or re.search(r"(\d+)\s+(?:leading\s+)?dense\s+(?:mlp\s+|ffn\s+)?layers?", text))
    if m and 0 < int(m.group(1)) < layers:
        out["n_dense_layers"] = int(m.group(1))
        if d := re.search(r"dense[^;,.]{0,40}?(?:ffn|mlp|intermediate)(?:[_\s]size)?\s*[=:]?\s*(\d{3,6})", text):
            out["dense_ffn_hidden"] = int(d.group(1))
    return out
