"""Every tunable number of the serving estimator, in one place.

Each is a physical quantity of a serving engine on a GPU — a fraction of a datasheet peak that real
kernels reach, or a fixed cost per step, per layer or per collective — shared by every estimate and
every validation row; the fractions are per hardware generation at most. None is set per row.

How they were chosen (docs/serving.md has the longer story):
- GEMM and attention fractions start from public kernel benchmarks (cuBLAS/cuBLASLt GEMMs, FlashAttention-2
  forward: ~70% of A100 peak, ~35-50% of H100 peak; FP8 GEMMs on H100 ~50-60% of the 1979 TFLOP/s figure at
  sustained, power-limited clocks) and were cross-checked on the batch-1 prefill (first-token) rows of the
  public TensorRT-LLM tables, which are compute bound and isolate them.
- Decode bandwidth fractions start from achieved-bandwidth measurements of streaming kernels (STREAM-
  like copy on A100/H100 reaches ~88-90% of the HBM datasheet figure; GDDR6 parts ~85%); decode
  streams weights and KV in long contiguous blocks, which is the same regime.
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
    "ampere": ServingEfficiency(matmul=0.70, fp8_matmul=0.0, attention=0.55, mem_bw=0.88),
    "ada": ServingEfficiency(matmul=0.60, fp8_matmul=0.55, attention=0.45, mem_bw=0.85),
    "hopper": ServingEfficiency(matmul=0.60, fp8_matmul=0.50, attention=0.40, mem_bw=0.88),
    "blackwell": ServingEfficiency(matmul=0.60, fp8_matmul=0.50, attention=0.45, mem_bw=0.85),
}
# Other generations (AMD CDNA, TPU, Gaudi, Trainium): younger serving stacks, so a little lower.
DEFAULT_SERVING_EFFICIENCY = ServingEfficiency(matmul=0.55, fp8_matmul=0.45, attention=0.40, mem_bw=0.75)

# GEMM rows (tokens in the step) at which tile/wave quantisation halves the compute efficiency:
# eff × m / (m + SMALL_GEMM_ROWS). Only matters where a step is compute bound with few rows.
SMALL_GEMM_ROWS = 128.0

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

# Fixed cost of a generation request outside the model's forward steps: admission, input/output
# buffer setup and copies, returning the first token. Added to the time to first token (and once per
# batch to a static batch's run).
REQUEST_OVERHEAD_S = 2e-3

# Elementwise traffic per token per layer that is not fused into GEMMs: the two norms (read and write
# d_model 16-bit values each; residual adds ride in GEMM epilogues), and for gated MLPs (SwiGLU/GeGLU)
# the separate activation kernel (read gate and up, write their product: 6 bytes per inner element).
# A plain GELU/ReLU MLP has its activation fused into the first GEMM's epilogue.
ELEMENTWISE_BYTES_PER_D = 8.0
ELEMENTWISE_BYTES_PER_GATED_FFN = 6.0

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


@dataclass(frozen=True)
class EngineTraits:
    """Kernel capabilities of a serving engine that change the bytes moved, not a fitted speed.

    gqa_shared_kv_reads: decode attention streams each KV head once for all the query heads of its
    group (MQA/GQA-aware kernels: vLLM, SGLang, FlashInfer, FlashAttention, TensorRT-LLM's XQA).
    Older TensorRT-LLM (v0.5, v0.6) ran one masked-MHA block per *query* head, so each KV head was
    streamed n_heads/kv_heads times (release notes v0.7.1: "MMHA optimization for MQA and GQA").
    gqa_shared_groups: if set, only these query-group sizes get the shared kernel; others fall back to
    per-query-head reads (None = all). Kept for engines whose GQA kernels cover few shapes; no bundled
    engine uses it: TensorRT-LLM v0.7-v0.10 documents XQA for "a limited number of model configurations,
    such as the LLAMA2 70B model" but also used its generic kernels, and the public tables do not
    settle which shapes fell back.
    fused_parallel_allreduce: models with parallel attention+MLP (GPT-J, Falcon) reduce both branches
    in one all-reduce per layer (TensorRT-LLM v0.7.1: "Optimize AllReduce for parallel attention on
    Falcon and GPT-J"); before, two.
    fp8_quantises_kv: with FP8 weights and no KV dtype stated, the KV cache is FP8 too. TensorRT-LLM's
    FP8 recipe builds with an FP8 KV cache (--enable_fp8 --fp8_kv_cache in v0.5-v0.7, ModelOpt FP8
    checkpoints with kv_cache_quant_algo FP8 later); vLLM and SGLang keep the KV in the model dtype
    unless --kv-cache-dtype is given.
    """

    name: str = "modern"
    gqa_shared_kv_reads: bool = True
    gqa_shared_groups: tuple[int, ...] | None = None
    fused_parallel_allreduce: bool = True
    fp8_quantises_kv: bool = False

    def shares_kv(self, group: int) -> bool:
        """Whether decode attention reads a KV head once for a query group of this size."""
        if group <= 1:
            return True
        if not self.gqa_shared_kv_reads:
            return False
        return self.gqa_shared_groups is None or group in self.gqa_shared_groups


MODERN_ENGINE = EngineTraits()
MODERN_TRTLLM = EngineTraits(name="TensorRT-LLM", fp8_quantises_kv=True)
LEGACY_TRTLLM = EngineTraits(name="TensorRT-LLM < 0.7", gqa_shared_kv_reads=False, fused_parallel_allreduce=False,
                             fp8_quantises_kv=True)


def engine_traits(engine: str | None) -> EngineTraits:
    """Traits of the engine named in a benchmark (e.g. 'TensorRT-LLM v0.6.1 (gptSessionBenchmark)');
    anything not recognised as TensorRT-LLM is treated as a current engine."""
    import re

    if not engine:
        return MODERN_ENGINE
    text = engine.lower()
    if not re.search(r"tensorrt[- _]?llm|trt[- _]?llm", text):
        return MODERN_ENGINE
    m = re.search(r"(?:tensorrt|trt)[- _]?llm\D{0,3}v?(\d+)\.(\d+)", text)
    if m and (int(m.group(1)), int(m.group(2))) < (0, 7):
        return LEGACY_TRTLLM
    return MODERN_TRTLLM
