"""Serving physics: memory per GPU, prefill and decode step times, latencies, throughput and cost.

One *replica* is a tensor-parallel group of `tp` GPUs inside a node, optionally `pp` such groups in a
pipeline. Everything is built from one function, `ReplicaPhysics.iteration`, the time of one forward
step of the engine that carries `decode_seqs` sequences one token forward (each attending over
`decode_ctx` cached tokens) and, fused into the same step, `prefill_tokens` prompt tokens. Per step:

- weight GEMMs: max(weights streamed / achieved HBM bandwidth, GEMM FLOPs / achieved tensor rate)
  (roofline). 2 FLOPs per touched parameter per token (+ the LM head for tokens that emit a logit).
  MoE: the experts touched by the step's tokens are read (all are held in memory).
- attention: decode reads every cached K/V of every sequence (memory bound); prefill runs causal flash
  attention (compute bound).
- unfused elementwise traffic, the tensor-parallel all-reduces (two per layer, one with parallel
  attention+MLP), pipeline hand-offs, and a fixed overhead per step and per layer.

Scenarios built on it: a static batch run to completion (prefill of the whole batch, then output_len-1
decode steps: TensorRT-LLM gptSessionBenchmark), and continuous batching in steady state (each step
decodes the running sequences and prefills the prompts that replace finished ones). All functions take
NumPy arrays (broadcasting), so a planner can evaluate many batch sizes at once.

SI units throughout; the tunable fractions and overheads live in `serving_efficiency.py`.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from pydantic import BaseModel

from flopwise.errors import FlopwiseError
from flopwise.estimate import serving_efficiency as se
from flopwise.estimate.efficiency import power_cap_factor
from flopwise.estimate.flops import dense_matmul_params, lm_head_params
from flopwise.estimate.memory import kv_cache_bytes_per_token
from flopwise.spec.hardware import Accelerator, Cluster
from flopwise.spec.model import ModelSpec

# ---- precisions ---------------------------------------------------------------------------------

WEIGHT_PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8", "int4")
KV_PRECISIONS: tuple[str, ...] = ("bf16", "fp16", "fp8", "int8")

_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "int4": 0.5, "fp4": 0.5}
_ALIASES = {
    "float16": "fp16", "half": "fp16", "bfloat16": "bf16", "float32": "fp32",
    "e4m3": "fp8", "fp8_e4m3": "fp8", "fp8-e4m3": "fp8", "w8a8-fp8": "fp8",
    "w8a16": "int8", "int8-wo": "int8", "w8a8": "int8", "smoothquant": "int8",
    "w4a16": "int4", "awq": "int4", "gptq": "int4", "int4-awq": "int4", "int4_awq": "int4",
    "nvfp4": "fp4", "mxfp4": "fp4", "fp4": "fp4",
}


def normalise_precision(name: str) -> str:
    """Canonical precision name (bf16, fp16, fp8, int8, int4, fp4, fp32) from common spellings."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _BYTES:
        from flopwise.errors import unknown

        raise unknown("precision", name, list(_BYTES))
    return key


def precision_bytes(name: str) -> float:
    return _BYTES[normalise_precision(name)]


def compute_precision(acc: Accelerator, weights: str) -> str:
    """Precision the weight GEMMs run in.

    fp8 weights run FP8 tensor-core GEMMs (W8A8) where the part has them, else they are upcast to 16-bit
    (weight-only, e.g. Marlin FP8 on Ampere). int8 and int4 are weight-only quantisation (W8A16 / W4A16:
    AWQ, GPTQ, TensorRT-LLM weight-only): they cut the bytes streamed, the math stays 16-bit.
    fp4 uses FP4 tensor cores where listed, else FP8, else 16-bit.
    """
    w = normalise_precision(weights)
    rates = acc.peak_flops_per_s
    if w == "fp4":
        for p in ("fp4", "fp8"):
            if p in rates:
                return p
        return "bf16"
    if w == "fp8" and "fp8" in rates:
        return "fp8"
    if w == "fp32":
        return "tf32" if "tf32" in rates else "fp32"
    return "bf16"


def _peak16(acc: Accelerator) -> float:
    for p in ("bf16", "fp16"):
        try:
            return acc.peak(p)
        except FlopwiseError:
            continue
    return max(acc.peak_flops_per_s.values())


# ---- typed results --------------------------------------------------------------------------------


class ServingMemory(BaseModel):
    """Bytes per GPU of one replica."""

    weights_bytes: float  # all experts, this GPU's shard
    kv_cache_bytes: float  # KV in use at the operating point
    kv_capacity_bytes: float  # what the engine reserves for KV
    activations_bytes: float  # step workspace
    runtime_bytes: float  # CUDA context, library workspaces
    capacity_bytes: float  # the GPU's memory
    kv_bytes_per_token: float  # per GPU (after tensor/pipeline split)
    max_tokens_in_cache: float
    max_concurrency: int  # sequences of input+output tokens that fit in the KV cache
    fits: bool

    @property
    def total_bytes(self) -> float:
        return self.weights_bytes + self.kv_capacity_bytes + self.activations_bytes + self.runtime_bytes


class StepTime(BaseModel):
    """One forward step of a replica, seconds by component (the components add up to `total_s`)."""

    rows: float  # tokens through the GEMMs in the step (decoded sequences + prompt tokens)
    weights_gemm_s: float  # weight GEMMs: max(weight_read_s, gemm_compute_s)
    attention_s: float
    elementwise_s: float
    tp_comm_s: float
    pp_comm_s: float
    overhead_s: float
    total_s: float
    weight_read_s: float  # streaming the weights at achieved bandwidth (memory roof)
    gemm_compute_s: float  # GEMM FLOPs at achieved tensor rate (compute roof)
    kv_read_s: float
    bound: str  # "memory" or "compute": which roof the weight GEMMs sit on


class ServingEstimate(BaseModel):
    """A serving operating point: latencies, throughput, memory and cost (per GPU and per system)."""

    model: str
    accelerator: str
    scenario: str  # "static-batch" | "continuous"
    tp: int
    pp: int
    replicas: int
    gpus: int
    weights: str
    kv: str
    compute_precision: str
    input_tokens: int
    output_tokens: int
    concurrency_per_replica: float
    concurrency: float  # whole system
    max_concurrency_per_replica: int
    request_rate_per_s: float  # whole system
    memory: ServingMemory
    prefill: StepTime  # a request's prefill step (static: the whole batch's)
    decode: StepTime  # a decode step at the mean context of the operating point
    ttft_s: float
    ttft_p99_s: float
    tpot_s: float
    e2e_s: float
    output_tokens_per_s_per_gpu: float
    output_tokens_per_s: float  # system
    total_tokens_per_s_per_gpu: float
    total_tokens_per_s: float  # system
    prefill_time_share: float  # share of GPU time spent on prompts (cost split input/output)
    usd_per_gpu_hour: float | None = None
    spot_usd_per_gpu_hour: float | None = None
    usd_per_hour: float | None = None  # whole system, on demand
    usd_per_m_input_tokens: float | None = None
    usd_per_m_output_tokens: float | None = None
    usd_per_m_tokens: float | None = None  # blended over input + output
    spot_usd_per_m_input_tokens: float | None = None
    spot_usd_per_m_output_tokens: float | None = None
    spot_usd_per_m_tokens: float | None = None
    meets_targets: bool = True
    notes: list[str] = []


# ---- the physics -------------------------------------------------------------------------------


def poisson_ppf(q: float, mu) -> np.ndarray:
    """Smallest k with P[Poisson(mu) <= k] >= q (exact sum below mu=30, normal approximation above)."""
    mu = np.asarray(mu, dtype=float)
    out = np.zeros_like(mu)
    small = mu < 30
    if np.any(small):
        m = mu[small]
        k = np.zeros_like(m)
        pmf = np.exp(-m)
        cdf = pmf.copy()
        done = cdf >= q
        for i in range(1, 80):
            if done.all():
                break
            pmf = pmf * m / i
            cdf = cdf + pmf
            newly = (~done) & (cdf >= q)
            k[newly] = i
            done |= newly
        k[~done] = 80
        out[small] = k
    if np.any(~small):
        m = mu[~small]
        z = 2.326347874 if abs(q - 0.99) < 1e-9 else float(np.sqrt(2) * _erfinv(2 * q - 1))
        out[~small] = np.ceil(m + z * np.sqrt(m) + 0.5)
    return out


def _erfinv(y: float) -> float:
    # Winitzki's approximation, ample for a quantile of arrivals
    a = 0.147
    ln = math.log(1 - y * y)
    t = 2 / (math.pi * a) + ln / 2
    return math.copysign(math.sqrt(math.sqrt(t * t - ln / a) - t), y)


@lru_cache(maxsize=64)
def _model_constants(m: ModelSpec) -> dict[str, float]:
    """Counts of a model that every replica of it shares (cached: the planners build many replicas)."""
    one_expert = m.mlp_params(m.ffn_hidden) if m.is_moe else 0
    non_emb = m.non_embedding_params()
    return {
        "non_emb": non_emb, "emb": m.embedding_params(), "lm_head": lm_head_params(m),
        "routed_params": m.n_moe_layers * one_expert, "always_params": non_emb - m.n_moe_layers * m.n_experts * one_expert,
        "routed_matmul": m.n_moe_layers * one_expert * m.experts_per_token,
        "dense_matmul": dense_matmul_params(m), "kv16": kv_cache_bytes_per_token(m, "bf16"),
    }


class ReplicaPhysics:
    """Per-GPU quantities of one replica (tp × pp GPUs) of `model` on `cluster`, and its step time."""

    def __init__(self, model: ModelSpec, cluster: Cluster, tp: int = 1, pp: int = 1,
                 weights: str = "bf16", kv: str = "bf16", engine: se.EngineTraits = se.MODERN_ENGINE):
        if tp < 1 or pp < 1:
            raise FlopwiseError("tensor and pipeline parallel degrees must be at least 1")
        self.model, self.cluster, self.tp, self.pp = model, cluster, tp, pp
        self.acc = cluster.accelerator
        self.weights = normalise_precision(weights)
        self.kv = normalise_precision(kv)
        self.n_gpus = tp * pp
        self.eff = se.serving_efficiency_for(self.acc.generation)
        m = model

        # -- weights (bytes, whole model) --
        wb = _BYTES[self.weights] + se.QUANT_SCALE_BYTES_PER_PARAM.get(self.weights, 0.0)
        eb = se.EMBEDDING_BYTES_WHEN_QUANTISED if _BYTES[self.weights] < 2 else _BYTES[self.weights]
        self.weight_bytes_per_param = wb
        k = _model_constants(m)
        self.weights_bytes_total = k["non_emb"] * wb + k["emb"] * eb
        # per step: everything but the routed experts, + the routed experts the step's tokens touch
        self.routed_expert_bytes = k["routed_params"] * wb  # one routed expert in every MoE layer
        self.always_read_bytes = k["always_params"] * wb + k["lm_head"] * eb
        # -- FLOPs per token (whole model) --
        self.gemm_flops_per_token = 2.0 * k["dense_matmul"]
        # of which the routed experts' GEMMs, run per expert on the tokens routed to it
        self.expert_flops_per_token = 2.0 * k["routed_matmul"]
        self.lm_head_flops_per_seq = 2.0 * k["lm_head"]
        # QK^T and AV: 2·(q·k dims + v dims) FLOPs per layer per key attended (MLA: its absorbed form
        # attends over the compressed latent, about the same count as its head dims)
        self.attn_flops_per_key = 2.0 * m.n_layers * (m.n_heads * m.hd + m.attn_dim)
        # -- KV cache per token per GPU --
        kv_full = k["kv16"] / 2.0 * _BYTES[self.kv]
        if m.is_mla:
            kv_split = 1  # the compressed latent is shared by all heads: every TP rank holds it
        else:
            kv_split = min(tp, m.kv_heads)  # beyond kv_heads ranks, KV heads are replicated
        self.kv_bytes_per_token = kv_full / kv_split / pp
        self.engine = engine
        # bytes streamed by decode attention per cached token (per GPU): each KV head once, or once per
        # query head of its group for kernels that do not share a group's KV
        group = 1.0 if (m.is_mla or engine.shares_kv(m.n_heads // m.kv_heads)) else m.n_heads / m.kv_heads
        self.kv_read_bytes_per_token = self.kv_bytes_per_token * group
        # -- rates per GPU --
        self.compute_precision = compute_precision(self.acc, self.weights)
        if self.compute_precision in ("fp8", "fp4"):
            frac = self.eff.fp8_matmul or self.eff.matmul
        else:
            frac = self.eff.matmul
        try:
            peak = self.acc.peak(self.compute_precision)
        except FlopwiseError:
            peak = _peak16(self.acc)
        clock = power_cap_factor(self.acc)  # power-capped parts sustain lower clocks
        self.gemm_flops_per_s = peak * frac * clock
        self.attn_flops_per_s = _peak16(self.acc) * self.eff.attention * clock
        self.mem_bw = self.acc.mem_bw_bytes_per_s * self.eff.mem_bw
        # -- links --
        self.intra_bw = cluster.intra_node_bw_bytes_per_s * se.ALLREDUCE_BUS_EFFICIENCY
        self.ar_latency = se.ALLREDUCE_LATENCY_S + cluster.intra_node_latency_s * math.log2(tp) if tp > 1 else 0.0
        if tp * pp <= cluster.gpus_per_node:
            self.p2p_bw, self.p2p_lat = cluster.intra_node_bw_bytes_per_s, cluster.intra_node_latency_s
        else:
            self.p2p_bw, self.p2p_lat = cluster.inter_node_bw_bytes_per_s * tp, cluster.inter_node_latency_s
        self.ar_per_layer = 1 if (m.parallel_attn_mlp and engine.fused_parallel_allreduce) else 2
        ffn_active = m.ffn_hidden * max(1, m.experts_per_token + m.n_shared_experts) if m.is_moe else (
            m.dense_ffn_hidden or m.ffn_hidden)
        gated = se.ELEMENTWISE_BYTES_PER_GATED_FFN if m.mlp == "swiglu" else 0.0
        self.elementwise_bytes_per_token = m.n_layers * (
            se.ELEMENTWISE_BYTES_PER_D * m.d_model + gated * ffn_active / tp)
        # -- memory per GPU --
        self.capacity_bytes = self.acc.memory_bytes
        self.weights_bytes = self.weights_bytes_total / self.n_gpus
        q_kv = (m.n_heads * m.hd + 2 * m.kv_heads * m.hd) / tp
        per_tok_act = se.ACTIVATION_BYTES * (4 * m.d_model + q_kv + 2 * ffn_active / tp)
        self.activations_bytes = se.ACTIVATION_WORKSPACE_TOKENS * per_tok_act
        free = self.capacity_bytes - se.RUNTIME_RESERVED_BYTES - self.weights_bytes - self.activations_bytes
        self.kv_capacity_bytes = max(0.0, free * se.KV_CACHE_FREE_FRACTION)
        self.max_tokens_in_cache = self.kv_capacity_bytes / self.kv_bytes_per_token

    # -- capacity --
    def max_concurrency(self, seq_tokens: int) -> int:
        """Sequences of `seq_tokens` (prompt + output) whose full KV fits at once."""
        return int(self.max_tokens_in_cache // max(seq_tokens, 1))

    def memory(self, tokens_in_cache: float, seq_tokens: int) -> ServingMemory:
        return ServingMemory(
            weights_bytes=self.weights_bytes, kv_cache_bytes=float(tokens_in_cache) * self.kv_bytes_per_token,
            kv_capacity_bytes=self.kv_capacity_bytes, activations_bytes=self.activations_bytes,
            runtime_bytes=se.RUNTIME_RESERVED_BYTES, capacity_bytes=self.capacity_bytes,
            kv_bytes_per_token=self.kv_bytes_per_token, max_tokens_in_cache=self.max_tokens_in_cache,
            max_concurrency=self.max_concurrency(seq_tokens), fits=self.max_concurrency(seq_tokens) >= 1,
        )

    # -- one forward step --
    def distinct_experts(self, rows):
        """Routed experts per MoE layer that `rows` tokens touch: E·(1-(1-k/E)^rows)."""
        m = self.model
        e, k = m.n_experts, m.experts_per_token
        return e * (1.0 - np.power(1.0 - k / e, np.maximum(rows, 0.0)))

    def expert_bytes(self, rows):
        """Routed-expert bytes read for `rows` tokens (the distinct experts they touch, in every MoE layer)."""
        if not self.model.is_moe:
            return 0.0
        return self.distinct_experts(rows) * self.routed_expert_bytes

    def iteration(self, decode_seqs=0.0, decode_ctx=0.0, prefill_tokens=0.0, prefill_ctx=0.0,
                  prefill_seqs=0.0, microbatches=None, parts: bool = True) -> dict[str, np.ndarray]:
        """Seconds of one engine step of the replica, by component (NumPy arrays, broadcast).

        decode_seqs sequences advance one token over decode_ctx cached tokens each; prefill_tokens
        prompt tokens (from prefill_seqs prompts of length prefill_ctx, causal) run in the same step.
        With pipeline parallelism the step's rows are split into `microbatches` (default pp) that
        stream through the stages; a single prompt's latency uses microbatches=1.
        parts=False returns only "total_s" (faster, for planners).
        """
        return _iteration(self, decode_seqs, decode_ctx, prefill_tokens, prefill_ctx, prefill_seqs, microbatches, parts)

    def prefill_time(self, prompts, prompt_len, decode_seqs=0.0, decode_ctx=0.0, chunk: int | None = None):
        """Time to prefill `prompts` prompts of `prompt_len` tokens (with decode_seqs running alongside),
        split into chunks of at most `chunk` tokens per step (None = one step)."""
        p = np.asarray(prompts, dtype=float) * prompt_len
        if chunk is None:
            return self.iteration(decode_seqs, decode_ctx, p, prompt_len, prompts, microbatches=1, parts=False)["total_s"]
        n = np.maximum(1.0, np.ceil(p / chunk))
        per = self.iteration(decode_seqs, decode_ctx, p / n, prompt_len, np.asarray(prompts, float) / n,
                             microbatches=1, parts=False)["total_s"]
        return n * per


def _iteration(ph, decode_seqs, decode_ctx, prefill_tokens, prefill_ctx, prefill_seqs, microbatches, parts):
    """`ReplicaPhysics.iteration` for one replica or a `PhysicsStack` (per-option columns)."""
    b = np.asarray(decode_seqs, dtype=float)
    c = np.asarray(decode_ctx, dtype=float)
    p = np.asarray(prefill_tokens, dtype=float)
    lp = np.asarray(prefill_ctx, dtype=float)
    s = np.asarray(prefill_seqs, dtype=float)
    pp, tp = ph.pp, ph.tp
    n_layers, d_model = ph.model.n_layers, ph.model.d_model
    mb = pp if microbatches is None else microbatches
    shard = tp * pp  # FLOPs and bytes of the whole model are split over tp×pp GPUs
    rows_total = b + p
    rows = rows_total / mb  # rows per micro-batch through one stage
    # weight GEMMs (per GPU, per micro-batch through its stage): roofline of bytes streamed and FLOPs
    w_bytes = (ph.always_read_bytes + ph.expert_bytes(rows)) / shard
    gemm_flops = (rows_total * ph.gemm_flops_per_token + (b + s) * ph.lm_head_flops_per_seq) / shard / mb
    expert_flops = rows_total * ph.expert_flops_per_token / shard / mb
    gemm_rate = ph.gemm_flops_per_s * rows / (rows + se.SMALL_GEMM_ROWS)
    # a routed expert's GEMM has only the rows routed to it: its tiles fill by that count, not the step's
    rows_e = rows * ph.model.experts_per_token / np.maximum(ph.distinct_experts(rows), 1.0) if ph.model.is_moe else rows
    expert_rate = ph.gemm_flops_per_s * rows_e / (rows_e + se.SMALL_GEMM_ROWS)
    weight_read = w_bytes / ph.mem_bw
    gemm_compute = np.where(rows > 0, (gemm_flops - expert_flops) / np.maximum(gemm_rate, 1e-30)
                            + expert_flops / np.maximum(expert_rate, 1e-30), 0.0)
    gemm = np.maximum(weight_read, gemm_compute)
    # attention: decode reads the whole KV of every sequence; prefill is causal flash attention
    kv_read = b * c * ph.kv_read_bytes_per_token / mb / ph.mem_bw
    d_flops = b * c * ph.attn_flops_per_key / shard / mb
    p_flops = p * (lp / 2.0) * ph.attn_flops_per_key / shard / mb
    attn = np.maximum(kv_read, d_flops / ph.attn_flops_per_s) + p_flops / ph.attn_flops_per_s
    elem = rows * ph.elementwise_bytes_per_token / pp / ph.mem_bw
    # tensor-parallel all-reduces of the activations (none at tp=1: ar_latency and the volume are 0)
    n_ar = ph.ar_per_layer * n_layers / pp
    vol = 2.0 * (tp - 1) / tp * rows * d_model * se.ACTIVATION_BYTES
    tp_comm = n_ar * (ph.ar_latency + vol / ph.intra_bw)
    overhead = (se.STEP_OVERHEAD_S + se.LAYER_OVERHEAD_S * n_layers) / pp
    # pipeline hand-off of the micro-batch's activations to the next stage
    hand = np.where(pp > 1, ph.p2p_lat + rows * d_model * se.ACTIVATION_BYTES / tp / ph.p2p_bw, 0.0)
    stage = gemm + attn + elem + tp_comm + overhead
    # every micro-batch passes every stage; with at least pp micro-batches the stages work on different
    # ones at once (mb × stage time), with fewer a micro-batch visits the pp stages one after another
    k = np.maximum(mb, pp)
    total = k * (stage + hand)
    if not parts:
        return {"total_s": total}
    comps = {
        "weights_gemm_s": gemm, "attention_s": attn, "elementwise_s": elem, "tp_comm_s": tp_comm,
        "pp_comm_s": hand, "overhead_s": overhead, "weight_read_s": weight_read,
        "gemm_compute_s": gemm_compute, "kv_read_s": kv_read,
    }
    out = {name: k * np.asarray(v, dtype=float) for name, v in comps.items()}
    out["total_s"] = total
    out["rows"] = rows_total
    out["bound"] = np.where(gemm_compute > weight_read + kv_read, 1.0, 0.0)
    keys = list(out)
    return dict(zip(keys, np.broadcast_arrays(*[np.asarray(out[x], dtype=float) for x in keys])))


_STACKED = ("tp", "pp", "always_read_bytes", "routed_expert_bytes", "gemm_flops_per_token", "expert_flops_per_token",
            "lm_head_flops_per_seq",

            "gemm_flops_per_s", "mem_bw", "kv_read_bytes_per_token", "attn_flops_per_key", "attn_flops_per_s",
            "elementwise_bytes_per_token", "ar_per_layer", "ar_latency", "intra_bw", "p2p_lat", "p2p_bw")


class PhysicsStack:
    """Several replicas of the same model (different accelerators / layouts) as column arrays, so one
    NumPy evaluation covers them all: arguments of shape (1, n) broadcast against (options, 1)."""

    def __init__(self, physics: list[ReplicaPhysics]):
        if not physics:
            raise ValueError("empty stack")
        self.members = physics
        self.model = physics[0].model
        for name in _STACKED:
            setattr(self, name, np.array([float(getattr(p, name)) for p in physics])[:, None])

    distinct_experts = ReplicaPhysics.distinct_experts
    expert_bytes = ReplicaPhysics.expert_bytes

    def iteration(self, decode_seqs=0.0, decode_ctx=0.0, prefill_tokens=0.0, prefill_ctx=0.0, prefill_seqs=0.0,
                  microbatches=None, parts: bool = False):
        return _iteration(self, decode_seqs, decode_ctx, prefill_tokens, prefill_ctx, prefill_seqs, microbatches, parts)

    prefill_time = ReplicaPhysics.prefill_time


def step_at(arrs: dict[str, np.ndarray], i=()) -> StepTime:
    """Element `i` of an `iteration` result as a typed StepTime."""
    v = {k: float(np.asarray(a)[i]) if np.ndim(a) else float(a) for k, a in arrs.items()}
    v["bound"] = "compute" if v["bound"] >= 0.5 else "memory"
    return StepTime(**v)


# ---- scenarios ----------------------------------------------------------------------------------


def static_batch_times(phys: ReplicaPhysics, batch: int, input_len: int, output_len: int):
    """(prefill step, decode steps) of a batch run to completion: one prefill of all prompts, then
    output_len-1 decode steps with the context growing by one each step."""
    pre = phys.iteration(0.0, 0.0, batch * input_len, input_len, batch, microbatches=1 if phys.pp == 1 else None)
    n_dec = max(output_len - 1, 0)
    ctx = input_len + np.arange(1, n_dec + 1, dtype=float)
    dec = phys.iteration(float(batch), ctx, 0.0, 0.0, 0.0) if n_dec else None
    return pre, dec


def steady_state(phys: ReplicaPhysics, concurrency, input_len: int, output_len: int,
                 parts: bool = True) -> dict[str, np.ndarray]:
    """Continuous batching at `concurrency` sequences in flight (arrays): per step, the running
    sequences each decode one token at the mean context input+output/2, and the prompts of the
    sequences that replace finished ones (concurrency/output_len per step) are prefilled alongside."""
    c = np.asarray(concurrency, dtype=float)
    ctx = input_len + output_len / 2.0
    new = c / max(output_len, 1)
    it = phys.iteration(c, ctx, new * input_len, input_len, new, parts=parts)
    dec_only = phys.iteration(c, ctx, 0.0, 0.0, 0.0, parts=parts)
    t = it["total_s"]
    out = {
        "step_s": t,
        "decode_only_s": dec_only["total_s"],
        "output_tokens_per_s": c / t,
        "input_tokens_per_s": c * input_len / max(output_len, 1) / t,
        "requests_per_s": c / max(output_len, 1) / t,
        "prefill_share": np.clip(1.0 - dec_only["total_s"] / t, 0.0, 1.0),
    }
    return out | {"iteration": it, "decode_iteration": dec_only}


def latencies(phys: ReplicaPhysics, concurrency, input_len: int, output_len: int, rate_per_s=None,
              parts: bool = True):
    """TTFT (mean and p99), TPOT and end-to-end latency at `concurrency` (arrays).

    A new prompt waits for the running step (half of it on average, all of it at p99) and is prefilled
    together with the prompts that arrive within one step (Poisson at `rate_per_s`; default: the rate
    the replica sustains at this concurrency), in chunks of PREFILL_CHUNK_TOKENS, while the running
    sequences keep decoding. TPOT is the mean step time including the prompts mixed into steps."""
    st = steady_state(phys, concurrency, input_len, output_len, parts)
    c = np.asarray(concurrency, dtype=float)
    t = st["step_s"]
    lam = st["requests_per_s"] if rate_per_s is None else np.asarray(rate_per_s, dtype=float) + 0 * t
    ctx = input_len + output_len / 2.0
    others_mean = lam * t
    others_p99 = poisson_ppf(0.99, lam * t)
    chunk = se.PREFILL_CHUNK_TOKENS
    pf_mean = phys.prefill_time(1.0 + others_mean, input_len, c, ctx, chunk)
    pf_p99 = phys.prefill_time(1.0 + others_p99, input_len, c, ctx, chunk)
    ttft = 0.5 * t + pf_mean + se.REQUEST_OVERHEAD_S
    ttft99 = t + pf_p99 + se.REQUEST_OVERHEAD_S
    tpot = t
    e2e = ttft + max(output_len - 1, 0) * tpot
    return st | {"ttft_s": ttft, "ttft_p99_s": ttft99, "tpot_s": tpot, "e2e_s": e2e}


def solve_concurrency(phys: ReplicaPhysics, rate_per_s: float, input_len: int, output_len: int,
                      max_c: float) -> float | None:
    """Concurrency per replica at an offered Poisson rate (Little's law: C = rate × e2e(C)), or None
    when the replica cannot keep up even at its largest batch."""
    def g(c):
        lat = latencies(phys, c, input_len, output_len, rate_per_s, parts=False)
        return float(rate_per_s * lat["e2e_s"]) - c

    hi = float(max_c)
    if hi <= 0 or g(hi) > 0:
        return None
    lo = 0.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if g(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-3 * max(hi, 1e-3):
            break
    return hi


# ---- cost ---------------------------------------------------------------------------------------


def cost_fields(usd_per_gpu_hour: float | None, spot_usd_per_gpu_hour: float | None, gpus: int,
                input_tok_s: float, output_tok_s: float, prefill_share: float) -> dict:
    """$ per million input / output / blended tokens, splitting GPU time between prompts and outputs
    by the share of step time spent on each."""
    out: dict = {"usd_per_gpu_hour": usd_per_gpu_hour, "spot_usd_per_gpu_hour": spot_usd_per_gpu_hour}

    def per_m(price):
        if price is None or output_tok_s <= 0:
            return None, None, None
        usd_s = price * gpus / 3600.0
        m_in = prefill_share * usd_s / input_tok_s * 1e6 if input_tok_s > 0 else None
        m_out = (1.0 - prefill_share) * usd_s / output_tok_s * 1e6
        blended = usd_s / (input_tok_s + output_tok_s) * 1e6
        return m_in, m_out, blended

    out["usd_per_m_input_tokens"], out["usd_per_m_output_tokens"], out["usd_per_m_tokens"] = per_m(usd_per_gpu_hour)
    (out["spot_usd_per_m_input_tokens"], out["spot_usd_per_m_output_tokens"],
     out["spot_usd_per_m_tokens"]) = per_m(spot_usd_per_gpu_hour)
    out["usd_per_hour"] = usd_per_gpu_hour * gpus if usd_per_gpu_hour is not None else None
    return out


# ---- building typed estimates -------------------------------------------------------------------


def estimate_static_batch(phys: ReplicaPhysics, batch: int, input_len: int, output_len: int, replicas: int = 1,
                          price: float | None = None, spot_price: float | None = None) -> ServingEstimate:
    """A batch of `batch` requests run to completion on each replica (prefill all, then decode)."""
    pre, dec = static_batch_times(phys, batch, input_len, output_len)
    t_pre = float(pre["total_s"]) + se.REQUEST_OVERHEAD_S
    t_dec = float(np.sum(dec["total_s"])) if dec is not None else 0.0
    total = t_pre + t_dec
    n_dec = max(output_len - 1, 0)
    tpot = t_dec / n_dec if n_dec else 0.0
    gpus = phys.n_gpus * replicas
    out_s = batch * output_len / total * replicas
    in_s = batch * input_len / total * replicas
    mid = n_dec // 2
    dec_step = step_at(dec, mid) if dec is not None else step_at(phys.iteration(float(batch), input_len, 0, 0, 0))
    mem = phys.memory(batch * (input_len + output_len), input_len + output_len)
    notes = []
    if batch > mem.max_concurrency:
        notes.append(f"batch {batch} needs more KV cache than fits ({mem.max_concurrency} sequences)")
    return ServingEstimate(
        model=phys.model.name, accelerator=phys.acc.id, scenario="static-batch", tp=phys.tp, pp=phys.pp,
        replicas=replicas, gpus=gpus, weights=phys.weights, kv=phys.kv, compute_precision=phys.compute_precision,
        input_tokens=input_len, output_tokens=output_len, concurrency_per_replica=batch,
        concurrency=batch * replicas, max_concurrency_per_replica=mem.max_concurrency,
        request_rate_per_s=batch * replicas / total, memory=mem, prefill=step_at(pre), decode=dec_step,
        ttft_s=t_pre, ttft_p99_s=t_pre, tpot_s=tpot, e2e_s=total,
        output_tokens_per_s_per_gpu=out_s / gpus, output_tokens_per_s=out_s,
        total_tokens_per_s_per_gpu=(out_s + in_s) / gpus, total_tokens_per_s=out_s + in_s,
        prefill_time_share=t_pre / total,
        **cost_fields(price, spot_price, gpus, in_s, out_s, t_pre / total), notes=notes,
    )


def estimate_continuous(phys: ReplicaPhysics, concurrency: float, input_len: int, output_len: int,
                        replicas: int = 1, rate_per_s: float | None = None, price: float | None = None,
                        spot_price: float | None = None) -> ServingEstimate:
    """Continuous batching in steady state at `concurrency` per replica (rate: offered per replica)."""
    lat = latencies(phys, concurrency, input_len, output_len, rate_per_s)
    f = {k: float(v) for k, v in lat.items() if not isinstance(v, dict)}
    gpus = phys.n_gpus * replicas
    out_s = f["output_tokens_per_s"] * replicas
    in_s = f["input_tokens_per_s"] * replicas
    rate = (rate_per_s if rate_per_s is not None else f["requests_per_s"]) * replicas
    if rate_per_s is not None:  # offered load below saturation: throughput follows the offered rate
        out_s = rate * output_len
        in_s = rate * input_len
    ctx = input_len + output_len / 2.0
    mem = phys.memory(concurrency * ctx, input_len + output_len)
    prefill_step = step_at(phys.iteration(concurrency, ctx, input_len, input_len, 1.0, microbatches=1))
    share = f["prefill_share"]
    cost = cost_fields(price, spot_price, gpus, in_s, out_s, share)
    notes: list[str] = []
    return ServingEstimate(
        model=phys.model.name, accelerator=phys.acc.id, scenario="continuous", tp=phys.tp, pp=phys.pp,
        replicas=replicas, gpus=gpus, weights=phys.weights, kv=phys.kv, compute_precision=phys.compute_precision,
        input_tokens=input_len, output_tokens=output_len, concurrency_per_replica=concurrency,
        concurrency=concurrency * replicas, max_concurrency_per_replica=mem.max_concurrency,
        request_rate_per_s=rate, memory=mem, prefill=prefill_step, decode=step_at(lat["decode_iteration"]),
        ttft_s=f["ttft_s"], ttft_p99_s=f["ttft_p99_s"], tpot_s=f["tpot_s"], e2e_s=f["e2e_s"],
        output_tokens_per_s_per_gpu=out_s / gpus, output_tokens_per_s=out_s,
        total_tokens_per_s_per_gpu=(out_s + in_s) / gpus, total_tokens_per_s=out_s + in_s,
        prefill_time_share=share, **cost, notes=notes,
    )
