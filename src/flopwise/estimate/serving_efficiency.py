"""Every tunable number of the serving estimator, in one place.

Each is a physical quantity of a serving engine on a GPU — a fraction of a datasheet peak that real
kernels reach, or a fixed cost per step, per layer or per collective — shared by every estimate and
every validation row; the fractions are per hardware generation at most. None is set per row.

How they were chosen (docs/serving.md has the longer story):
- GEMM and attention fractions start from public kernel benchmarks (cuBLAS/cuBLASLt GEMMs, FlashAttention-2
  forward: ~70% of A100 peak, ~35-50% of H100 peak; FP8 GEMMs on H100 ~50-60% of the 1979 TFLOP/s figure at
  sustained, power-limited clocks) and were cross-checked on the batch-1 prefill (first-token) rows of the
  public TensorRT-LLM tables, which are compute bound and isolate them.
- Decode bandwidth fractions start from achieved-bandwidth measurements of memory-bound GEMV / paged
  attention kernels (~80-90% of HBM peak; GDDR parts similar).
- Overheads are sized from kernel counts (about ten kernels per transformer layer, a few microseconds of
  launch gap and tail each even under CUDA graphs) and from one-shot NVLink all-reduce latencies
  (~10 microseconds for small messages).
They were then checked against the whole public inference set at once, never adjusted row by row.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServingEfficiency:
    """Achievable fractions of peak for one hardware generation, in inference kernels."""

    matmul: float  # large 16-bit GEMMs (prefill, big decode batches): fraction of the dense 16-bit peak
    fp8_matmul: float  # large FP8 GEMMs (W8A8): fraction of the dense FP8 peak
    attention: float  # fused (flash) attention forward in prefill: fraction of the dense 16-bit peak
    mem_bw: float  # weight-streaming GEMV and paged-attention KV reads in decode: fraction of HBM bandwidth


SERVING_EFFICIENCY: dict[str, ServingEfficiency] = {
    "volta": ServingEfficiency(matmul=0.65, fp8_matmul=0.0, attention=0.40, mem_bw=0.80),
    "turing": ServingEfficiency(matmul=0.60, fp8_matmul=0.0, attention=0.40, mem_bw=0.80),
    "ampere": ServingEfficiency(matmul=0.70, fp8_matmul=0.0, attention=0.55, mem_bw=0.85),
    "ada": ServingEfficiency(matmul=0.60, fp8_matmul=0.55, attention=0.45, mem_bw=0.85),
    "hopper": ServingEfficiency(matmul=0.60, fp8_matmul=0.50, attention=0.40, mem_bw=0.80),
    "blackwell": ServingEfficiency(matmul=0.60, fp8_matmul=0.50, attention=0.45, mem_bw=0.80),
}
# Other generations (AMD CDNA, TPU, Gaudi, Trainium): younger serving stacks, so a little lower.
DEFAULT_SERVING_EFFICIENCY = ServingEfficiency(matmul=0.55, fp8_matmul=0.45, attention=0.40, mem_bw=0.75)

# GEMM rows (tokens in the step) at which tile/wave quantisation halves the compute efficiency:
# eff × m / (m + SMALL_GEMM_ROWS). Only matters where a step is compute bound with few rows.
SMALL_GEMM_ROWS = 64.0

# Fixed cost of one forward step of the engine, whatever its size: scheduling, sampling over the
# vocabulary, host<->device token copies and synchronisation (with CUDA graphs).
STEP_OVERHEAD_S = 200e-6
# Fixed cost per transformer layer per forward step: about ten kernels (norms, QKV, rotary, attention,
# projection, MLP GEMMs, activation, residual) each leaving a few microseconds of launch gap and tail.
LAYER_OVERHEAD_S = 15e-6

# Tensor-parallel all-reduce of the activations: a fixed latency per call (one-shot NVLink all-reduce
# kernels) plus log2(tp) link latencies, plus the ring volume 2(n-1)/n · bytes over the link at
# ALLREDUCE_BUS_EFFICIENCY of its per-direction bandwidth.
ALLREDUCE_LATENCY_S = 10e-6
ALLREDUCE_BUS_EFFICIENCY = 0.80
# Activations exchanged between tensor/pipeline ranks are 16-bit.
ACTIVATION_BYTES = 2.0

# Elementwise traffic per token per layer that is not fused into GEMMs (norm read/write, residual add,
# rotary, the MLP activation): bytes per d_model element and per MLP inner element (16-bit tensors).
ELEMENTWISE_BYTES_PER_D = 8.0
ELEMENTWISE_BYTES_PER_FFN = 6.0

# Memory: what the runtime holds besides weights and KV (CUDA context, cuBLAS/NCCL workspaces, engine
# I/O buffers), the activation workspace sized for this many tokens in one step (TensorRT-LLM's default
# max_num_tokens, vLLM's chunked-prefill budget), and the share of what is left that the engine gives
# to the KV cache (TensorRT-LLM kv_cache_free_gpu_mem_fraction = 0.9; vLLM gpu_memory_utilization 0.9).
RUNTIME_RESERVED_BYTES = 1.5 * 2**30
ACTIVATION_WORKSPACE_TOKENS = 8192
KV_CACHE_FREE_FRACTION = 0.90
# Largest prompt chunk processed in one step under continuous batching (chunked prefill).
PREFILL_CHUNK_TOKENS = 8192
# Largest number of sequences an engine schedules at once (vLLM max_num_seqs 256-1024; TensorRT-LLM
# max_batch_size up to 2048) — the planner's ceiling on concurrency per replica.
MAX_BATCH_PER_REPLICA = 1024

# Weight quantisation: extra bytes per quantised weight for scales/zeros. int4 (AWQ/GPTQ) keeps a 16-bit
# scale and zero per group of 128 weights; fp8/int8 use per-channel or per-tensor scales (negligible).
QUANT_SCALE_BYTES_PER_PARAM: dict[str, float] = {"int4": 4.0 / 128, "fp4": 1.0 / 16}
# Quantised checkpoints keep the token embedding and the LM head in 16-bit (TensorRT-LLM, AWQ, GPTQ, vLLM).
EMBEDDING_BYTES_WHEN_QUANTISED = 2.0


def serving_efficiency_for(generation: str) -> ServingEfficiency:
    return SERVING_EFFICIENCY.get(generation, DEFAULT_SERVING_EFFICIENCY)
