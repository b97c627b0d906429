"""Bytes of weights, gradients, optimizer states and activations (training) and of weights and KV cache
(inference). Activation formulas follow Korthikanti et al. 2022 (Reducing Activation Recomputation)."""

from __future__ import annotations

from dataclasses import dataclass

from flopwise.spec.model import ModelSpec
from flopwise.spec.precision import bytes_per

# Optimizer state bytes per parameter kept beside the 16-bit weights and gradients.
# Mixed-precision Adam: fp32 master weights + fp32 first and second moments = 12 bytes
# (Rajbhandari et al. 2020, ZeRO §3: "2Ψ + 2Ψ + 12Ψ = 16Ψ").
OPTIMIZER_STATE_BYTES: dict[str, float] = {
    "adam": 12.0,  # fp32 master + m + v
    "adamw": 12.0,
    "adam-8bit": 6.0,  # fp32 master + 8-bit m and v (bitsandbytes)
    "sgd": 8.0,  # fp32 master + momentum
    "adafactor": 4.0,  # fp32 master; factored second moments are negligible
    "lion": 8.0,  # fp32 master + momentum
}


def optimizer_state_bytes(optimizer: str) -> float:
    from flopwise.errors import unknown

    try:
        return OPTIMIZER_STATE_BYTES[optimizer]
    except KeyError:
        raise unknown("optimizer", optimizer, OPTIMIZER_STATE_BYTES) from None


@dataclass(frozen=True)
class ModelStateBytes:
    """Weights, gradients and optimizer states for a number of parameters (before any sharding)."""

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.gradients_bytes + self.optimizer_bytes


def model_state_bytes(params: float, precision: str = "bf16", optimizer: str = "adam") -> ModelStateBytes:
    """Mixed-precision training state: 16-bit (or fp8-stored-as-16-bit) weights and grads + optimizer.

    fp8 training keeps 16-bit weights and gradients (Transformer Engine casts on the fly), so fp8 and
    bf16 need the same bytes per parameter here.
    """
    w = 4.0 if precision == "fp32" else 2.0
    return ModelStateBytes(params * w, params * w, params * optimizer_state_bytes(optimizer))


def activation_bytes_per_layer(
    model: ModelSpec,
    seq_len: int,
    micro_batch,
    tp=1,
    sequence_parallel=False,
    recompute="none",
    flash_attention=True,
    cp=1,
    precision="bf16",
):
    """Activation bytes one transformer layer keeps for backward, for one micro-batch, per GPU.

    For a GPT layer (MHA, 4h GELU MLP, dropout) with 16-bit activations this is Korthikanti et al.'s
    s·b·h·(34 + 5·a·s/h) (eq. 1); with tensor parallel t: s·b·h·(10 + 24/t + 5·a·s/(h·t)); with sequence
    parallel everything is divided by t; selective recompute (or flash attention, which never stores
    the s×s scores) drops the 5·a·s/h term; full recompute keeps only the layer input 2·s·b·h.
    The terms are generalised to GQA, SwiGLU and MoE from the same per-tensor accounting. With fp8 GEMMs
    (Transformer Engine) the inputs a GEMM keeps for its weight gradient are saved in fp8: 1 byte, not 2.
    Works elementwise on NumPy arrays (recompute may be a name or an array of codes 0/1/2).
    """
    import numpy as np

    rec = recompute
    if isinstance(rec, str):
        rec = {"none": 0, "selective": 1, "full": 2}[rec]
    rec = np.asarray(rec)
    tp = np.asarray(tp, dtype=float)
    sp = np.asarray(sequence_parallel, dtype=bool)
    flash = np.asarray(flash_attention, dtype=bool)
    s = seq_len / np.asarray(cp, dtype=float)
    h = model.d_model
    sbh = s * np.asarray(micro_batch, dtype=float) * h
    kv_frac = model.kv_heads * model.hd / h
    q_frac = model.n_heads * model.hd / h
    v_frac = model.attn_dim / h
    # replicated over TP ranks: two layernorm inputs (2+2), two dropout masks (1+1, models trained with
    # dropout only) and the inputs of the QKV and first MLP GEMMs (2+2), which every TP rank needs whole
    g = 1.0 if precision == "fp8" else 2.0  # bytes of a saved GEMM input
    replicated = (6.0 if model.dropout else 4.0) + 2.0 * g
    # attention block inside TP: Q 2, K 2, V 2 (scaled for GQA/MLA), projection input (a GEMM input)
    attn = 2.0 * q_frac + 2.0 * kv_frac + 2.0 * kv_frac + g * v_frac
    # MLP inside TP (per routed token; MoE stores k experts' activations)
    f = model.ffn_hidden / h
    # swiglu: gate, up (2 each) and their product, the down GEMM's input; gelu: the activation's input
    # (2) and output, the second GEMM's input
    mlp_one = f * (4.0 + g if model.mlp == "swiglu" else 2.0 + g)
    if model.is_moe:
        k = model.experts_per_token + model.n_shared_experts
        mlp = mlp_one * k + g * model.experts_per_token  # experts + router-permuted copies of the input
    else:
        mlp = mlp_one
    # materialised scores: QK^T and softmax output (2+2) and the attention-dropout mask (1)
    score_bytes = 5.0 if model.dropout else 4.0
    scores = np.where(flash | (rec == 1), 0.0, score_bytes * model.n_heads * s / h)
    inner = attn + mlp + scores
    stored = np.where(sp, sbh * (replicated + inner) / tp, sbh * (replicated + inner / tp))
    layer_input = np.where(sp, 2.0 * sbh / tp, 2.0 * sbh)
    out = np.where(rec == 2, layer_input, stored)
    return float(out) if out.ndim == 0 else out


# Peak bytes per logit element while the loss runs (PyTorch cross-entropy on upcast logits): the 16-bit
# logits the training loop still holds (2), the fp32 log-softmax output saved for backward (4) and, in
# backward, its fp32 gradient (4); the fp32 copy made for the loss is transient. With a 128k vocabulary
# this is the largest single allocation of a long-sequence step (torchtitan's 8B at 32k tokens).
LOSS_PEAK_BYTES_PER_LOGIT = 10.0


def logits_bytes(model: ModelSpec, seq_len: int, micro_batch, tp=1, cp=1):
    """Peak bytes of the loss over the logits on the last pipeline stage (vocab split over TP)."""
    return LOSS_PEAK_BYTES_PER_LOGIT * seq_len / cp * micro_batch * model.vocab_size / tp


@dataclass(frozen=True)
class InferenceMemory:
    weights_bytes: float
    kv_cache_bytes: float

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_cache_bytes


def kv_cache_bytes_per_token(model: ModelSpec, kv_precision: str = "bf16") -> float:
    """KV cache bytes per token: 2·layers·kv_heads·head_dim·bytes (MLA: latent + rope key per layer)."""
    if model.is_mla:
        per_layer = (model.kv_lora_rank or 0) + (model.qk_rope_head_dim or 0)
        return model.n_layers * per_layer * bytes_per(kv_precision)
    return 2.0 * model.n_layers * model.kv_heads * model.hd * bytes_per(kv_precision)


def inference_memory(
    model: ModelSpec, tokens_in_cache: float, weight_precision: str = "bf16", kv_precision: str = "bf16"
) -> InferenceMemory:
    """Weights (all experts for MoE) + KV cache for `tokens_in_cache` tokens (batch × context)."""
    return InferenceMemory(
        weights_bytes=model.params_total * bytes_per(weight_precision),
        kv_cache_bytes=kv_cache_bytes_per_token(model, kv_precision) * tokens_in_cache,
    )
