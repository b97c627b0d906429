"""Every tunable efficiency of the estimator, in one place.

Each number is a physical fraction (achieved / peak) shared by all estimates — global, or per hardware
generation — never per validation row. How they were chosen is in docs/accuracy.md: starting from
public kernel benchmarks (cuBLAS GEMM, FlashAttention, NCCL bus bandwidth), rounded, then checked
against the whole validation set at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GenerationEfficiency:
    """Achievable fractions of peak for one hardware generation."""

    matmul: float  # large dense GEMMs (bf16/fp16), fraction of dense tensor peak, at sustained clocks
    attention: float  # fused (flash) attention kernels, fraction of dense tensor peak, fwd+bwd average
    memory_bw: float  # elementwise / optimizer kernels, fraction of HBM bandwidth
    fp8_matmul: float  # large fp8 GEMMs, fraction of the fp8 dense peak


# A100 cuBLAS bf16 GEMMs reach ~250-280 of 312 TFLOP/s; H100 SXM ~600-700 of 989 at sustained
# (power-limited) clocks in training. Attention is lower in place than in kernel benchmarks (FA2 reports
# ~55-60% fwd+bwd on A100, ~35-40% on H100, at large batch and head dim 128): the runs use triton
# FlashAttention, xformers or FA2 with ALiBi/rotary and causal masks, and the causal FLOPs counted here
# are half of the square. 0.30 (Ampere) / 0.25 (Hopper) were chosen over the training rows plus the 201
# published llm-foundry MPT benchmark rows (whose long-context rows isolate attention); see accuracy.md.
# Hopper fp8 GEMMs: 0.55 of the fp8 peak = 1.83x the bf16 rate (cuBLAS/TE fp8 GEMMs run 1.7-1.9x bf16),
# chosen over all 45 dense H100 fp8 rows of four sources at once (llm-foundry, torchtitan, NeMo, public).
# Blackwell keeps the same fp8/bf16 rate ratio: 0.65 x 1.83 / 2 = 0.60.
EFFICIENCY: dict[str, GenerationEfficiency] = {
    "volta": GenerationEfficiency(matmul=0.60, attention=0.40, memory_bw=0.75, fp8_matmul=0.0),
    "turing": GenerationEfficiency(matmul=0.70, attention=0.40, memory_bw=0.75, fp8_matmul=0.0),
    "ampere": GenerationEfficiency(matmul=0.75, attention=0.30, memory_bw=0.75, fp8_matmul=0.0),
    "ada": GenerationEfficiency(matmul=0.70, attention=0.30, memory_bw=0.75, fp8_matmul=0.55),
    "hopper": GenerationEfficiency(matmul=0.60, attention=0.25, memory_bw=0.75, fp8_matmul=0.55),
    "blackwell": GenerationEfficiency(matmul=0.65, attention=0.45, memory_bw=0.75, fp8_matmul=0.60),
}
# TPUs (systolic MXUs scheduled by XLA, no power-capped clocks): one set for every generation, chosen over
# the 41 TPU rows of benchmarks/data (MaxText on v5p and v5e, PaLM on v4) at once: matmul 0.85 is the
# grid minimum of the median (0.60, the default below, left them 26% slow); MaxText's v5e 16B run with
# full rematerialisation already reaches ~81% hardware FLOPs utilisation, so the MXUs sustain at least
# that. Attention and memory bandwidth are not separately determined by those rows (sequence 2048).
# v6e (no rows) is taken to be at least as efficient as v5; v3 (no rows, and its published runs -- Gopher
# at 32.5% MFU -- came from 2020-21 software) keeps the default.
_TPU = GenerationEfficiency(matmul=0.85, attention=0.40, memory_bw=0.75, fp8_matmul=0.0)
EFFICIENCY.update({"tpu-v4": _TPU, "tpu-v5": _TPU, "tpu-v6": _TPU})
DEFAULT_EFFICIENCY = GenerationEfficiency(matmul=0.60, attention=0.40, memory_bw=0.70, fp8_matmul=0.45)

# GEMM dimension at which tile/wave quantization halves the efficiency: eff × x/(x + SMALL_GEMM_DIM)
# for the token dimension and the narrowest weight dimension of a GEMM.
SMALL_GEMM_DIM = 64.0

# Collective bus bandwidth achieved by NCCL, as a fraction of the link's per-direction bandwidth.
NVLINK_BUS_EFFICIENCY = 0.80
NETWORK_BUS_EFFICIENCY = 0.80

# Communication overlapped with compute (FSDP prefetch, DP gradient buckets, ring attention) still slows
# it: NCCL kernels take SMs and HBM bandwidth. Side-by-side time = max(a, b) + (1 - this) * min(a, b).
OVERLAP_EFFICIENCY = 0.5

# Elementwise memory traffic per token per layer in the forward pass, in units of bytes per d_model
# (layernorms, residual adds, dropout) and per MLP inner element (activation function), 16-bit tensors.
# Backward moves about twice the forward traffic.
ELEMENTWISE_BYTES_PER_D = 24.0
ELEMENTWISE_BYTES_PER_FFN = 4.0
# MoE token permutation, forward, bytes per d_model element per copy: the permute writes each of a token's
# k copies (2) and the combine reads them back (2); the token itself is read once and its sum written once.
MOE_PERMUTE_BYTES_PER_COPY = 4.0
# fp8 (Transformer Engine style) casts every GEMM input: read 2 bytes, write 1, plus an amax pass (2).
FP8_CAST_BYTES = 5.0
# Materialised (non-flash) attention: bytes per score element moved by scale/mask/softmax/dropout, fwd.
SCORE_BYTES_PER_ELEMENT = 12.0

# Unfused cross-entropy over the vocabulary, forward + backward, in bytes moved per logit element (the
# LM-head GEMMs themselves are counted as compute). PyTorch eager `F.cross_entropy(logits.float())`:
# cast 16->32 bit (2+4), log-softmax (two reads + one write of fp32: 12), dense NLL gradient (4),
# log-softmax backward (read grad and output, write: 12), cast back (4+2) = 40 bytes. Megatron's
# vocab-parallel version makes more in-place passes (~56); fused kernels (Liger, Apex) ~12. This term
# is why small-width models with a large vocabulary (Pythia-70M: d 512, vocab 50k) reach low MFU.
LOSS_BYTES_PER_LOGIT = 40.0

# Host work of a dropless MoE layer, per micro-batch and pass (forward or backward): router top-k, the
# device-to-host copy of tokens-per-expert that sizes the grouped GEMMs and all-to-all splits (it drains
# the launch queue), permutation and grouped-GEMM launches. The GPU waits for it unless another
# micro-batch's work runs beside it (ep_overlap). Chosen over the 36 MoE rows of the NeMo /
# Megatron-Bridge tables (the only published MoE training rows bundled): their median |error| is flat,
# 18-19%, from 1.5 to 3 ms (54% without the term, bias +54%); 2 ms was taken.
MOE_LAYER_HOST_S = 2e-3

# fp8 expert dispatch: 1 byte per element plus one fp32 scale per 128 elements (DeepSeek-V3's tiles).
DISPATCH_BYTES_FP8 = 1.0 + 4.0 / 128

# FlashAttention backward costs 2.5x its forward (5 GEMMs vs 2).
FLASH_BWD_OVER_FWD = 2.5

# Optimizer step: bytes read+written per locally held parameter (Adam: fp32 master, m, v, grad, 16-bit copy).
OPTIMIZER_BYTES_PER_PARAM = 28.0

# What the framework itself holds on each GPU besides tensors: CUDA context + cuBLAS/NCCL workspaces,
# and the caching allocator's fragmentation on the dynamic part (activations, buffers).
FRAMEWORK_FIXED_BYTES = 2.0 * 2**30
ALLOCATOR_FRAGMENTATION = 0.08


# Power-capped parts (Accelerator.rated_power_w above tdp_w) sustain lower clocks. Dynamic power goes as
# f·V² and V tracks f in the DVFS range, so the power above idle scales as f³: the sustained clock, and
# with it every compute rate, falls as ((cap - idle) / (rated - idle))^(1/3). Memory bandwidth is kept.
IDLE_POWER_FRACTION = 0.10  # idle board power / rated power (H100 SXM: ~70 W of 700 W)
DVFS_POWER_EXPONENT = 3.0


def power_cap_factor(acc) -> float:
    """Sustained compute of a power-capped accelerator relative to its listed (rated-power) peak."""
    rated, cap = acc.rated_power_w, acc.tdp_w
    if not rated or not cap or cap >= rated:
        return 1.0
    idle = IDLE_POWER_FRACTION * rated
    return ((cap - idle) / (rated - idle)) ** (1.0 / DVFS_POWER_EXPONENT)


# FlashAttention-3 / cuDNN fused attention on Hopper (warp-specialised, TMA, async softmax): the FA3 paper
# (Shah et al. 2024) measures 1.5-2.0x FlashAttention-2's forward and 1.5-1.75x its backward on H100;
# weighting fwd 1 : bwd 2.5 by FLOPs, 1.7x. In place, the same discount as the FA2-class value: 0.25 x 1.7.
# Other generations have no separate kernel class here (Blackwell's value is already cuDNN-class).
FA3_ATTENTION: dict[str, float] = {"hopper": 0.42}


def fa3_attention_for(generation: str) -> float:
    """Attention efficiency of FlashAttention-3 / cuDNN-class kernels (the FA2-class value where none)."""
    return FA3_ATTENTION.get(generation, efficiency_for(generation).attention)


def efficiency_for(generation: str) -> GenerationEfficiency:
    return EFFICIENCY.get(generation, DEFAULT_EFFICIENCY)
