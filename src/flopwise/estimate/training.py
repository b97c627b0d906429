"""Memory per GPU and step time of a training plan, vectorised over many plans at once (NumPy).

One call evaluates arrays of plans (tp, pp, dp, ...) for one model and one cluster; `search.py` feeds it
every candidate layout, `evaluate_plan` a single one. All formulas are per GPU and per optimizer step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from flopwise.estimate import efficiency as eff_params
from flopwise.estimate.flops import (
    attention_fwd_flops_per_token,
    dense_matmul_params,
    lm_head_params,
    training_flops_per_token,
)
from flopwise.estimate.memory import activation_bytes_per_layer, logits_bytes, optimizer_state_bytes
from flopwise.plan.parallel import RECOMPUTE_CODE, ZERO_STAGE, ParallelPlan
from flopwise.spec.hardware import Cluster
from flopwise.spec.model import ModelSpec
from flopwise.spec.precision import matmul_rate_key


@dataclass(frozen=True)
class TrainingJob:
    """What is being trained, on what, with which batch."""

    model: ModelSpec
    cluster: Cluster
    global_batch: int  # sequences per optimizer step
    seq_len: int
    precision: str = "bf16"
    optimizer: str = "adam"
    tokens: float | None = None  # total training tokens (for time and cost)

    @property
    def peak_flops_per_s(self) -> float:
        """Dense peak of the accelerator for this job's matmul precision."""
        return self.cluster.accelerator.peak(matmul_rate_key(self.precision))


@dataclass
class PlanArrays:
    """Candidate plans as parallel arrays (one element per plan)."""

    tp: np.ndarray
    pp: np.ndarray
    dp: np.ndarray
    cp: np.ndarray
    ep: np.ndarray
    vpp: np.ndarray
    mb: np.ndarray
    zero: np.ndarray  # ZeRO stage 0..3
    hsdp: np.ndarray  # bool: shard within a node only (HSDP)
    deepspeed: np.ndarray  # bool: DeepSpeed's ZeRO-1/2/3 (zero1/zero2/zero3) rather than Megatron / PyTorch FSDP
    recompute: np.ndarray  # 0 none, 1 selective, 2 full, 3 block
    rec_layers: np.ndarray  # block: layers of each model chunk recomputed (0 = as few as fit)
    sp: np.ndarray  # bool: sequence parallel
    tp_overlap: np.ndarray  # bool: TP collectives overlapped with the GEMMs (needs sp)
    flash: np.ndarray  # bool
    ep_overlap: np.ndarray = None  # bool: expert all-to-all overlapped with another micro-batch's compute
    fa3: np.ndarray = None  # bool: FlashAttention-3 / cuDNN-class attention kernel

    @classmethod
    def from_plans(cls, plans: list[ParallelPlan]) -> "PlanArrays":
        def arr(fn, dtype=np.int64):
            return np.array([fn(p) for p in plans], dtype=dtype)

        return cls(
            tp=arr(lambda p: p.tp), pp=arr(lambda p: p.pp), dp=arr(lambda p: p.dp), cp=arr(lambda p: p.cp),
            ep=arr(lambda p: p.ep), vpp=arr(lambda p: p.vpp), mb=arr(lambda p: p.micro_batch),
            zero=arr(lambda p: ZERO_STAGE[p.sharding]), hsdp=arr(lambda p: p.sharding == "hsdp", bool),
            deepspeed=arr(lambda p: p.sharding in ("zero1", "zero2", "zero3"), bool),
            recompute=arr(lambda p: RECOMPUTE_CODE[p.recompute]), rec_layers=arr(lambda p: p.recompute_layers or 0),
            sp=arr(lambda p: p.sequence_parallel and p.tp > 1, bool), flash=arr(lambda p: p.flash_attention, bool),
            tp_overlap=arr(lambda p: p.tp_overlap and p.sequence_parallel and p.tp > 1, bool),
            ep_overlap=arr(lambda p: p.ep_overlap and p.ep > 1, bool),
            fa3=arr(lambda p: p.flash_attention and p.flash_version == 3, bool),
        )

    def __post_init__(self) -> None:
        if self.ep_overlap is None:
            self.ep_overlap = np.zeros(len(self.tp), dtype=bool)
        if self.fa3 is None:
            self.fa3 = np.zeros(len(self.tp), dtype=bool)

    def __len__(self) -> int:
        return len(self.tp)



def _collective_time(bytes_, n, factor, bw, lat):
    """Ring collective over n ranks: factor·(n-1)/n of the buffer through the slowest link, plus latency."""
    n = np.maximum(n, 1)
    frac = (n - 1) / n
    return np.where(n > 1, factor * frac * bytes_ / bw + factor * (n - 1) * lat, 0.0)


def _overlap(a, b):
    """Time of two streams run side by side: the longer, plus the share of the shorter that contends
    for SMs and memory bandwidth (efficiency.OVERLAP_EFFICIENCY = 1 would be perfect overlap)."""
    return np.maximum(a, b) + (1.0 - eff_params.OVERLAP_EFFICIENCY) * np.minimum(a, b)


def _gemm_eff(x):
    return x / (x + eff_params.SMALL_GEMM_DIM)


@dataclass
class TrainingArrays:
    """Per-plan results (arrays). Memory in bytes per GPU, times in seconds per optimizer step."""

    valid: np.ndarray
    reason: np.ndarray  # int code, see REASONS
    # memory
    weights_bytes: np.ndarray
    gradients_bytes: np.ndarray
    optimizer_bytes: np.ndarray
    activations_bytes: np.ndarray
    buffers_bytes: np.ndarray
    framework_bytes: np.ndarray
    recompute_layers: np.ndarray  # block recompute: layers of each model chunk rebuilt (0 otherwise)
    recompute_fraction: np.ndarray  # share of the layers whose forward runs twice (1 = full recompute)
    # time (per step)
    compute_s: np.ndarray  # dense matmuls + LM head
    attention_s: np.ndarray
    elementwise_s: np.ndarray
    recompute_s: np.ndarray
    tp_comm_s: np.ndarray
    cp_comm_s: np.ndarray
    ep_comm_s: np.ndarray
    moe_host_s: np.ndarray
    pp_comm_s: np.ndarray
    bubble_s: np.ndarray
    dp_comm_s: np.ndarray
    fsdp_comm_s: np.ndarray
    optimizer_s: np.ndarray
    step_s: np.ndarray

    @property
    def memory_bytes(self) -> np.ndarray:
        return (self.weights_bytes + self.gradients_bytes + self.optimizer_bytes + self.activations_bytes
                + self.buffers_bytes + self.framework_bytes)


REASONS = {
    0: "ok",
    1: "GPU count is not tp·pp·dp·cp",
    2: "more pipeline stages (pp·vpp) than layers",
    3: "heads (or KV heads) not divisible by tp",
    4: "global batch not divisible by dp·micro_batch",
    5: "interleaved schedule needs pp > 1 and micro-batches divisible by pp",
    6: "expert parallel: the experts must divide by ep, ep must divide tp·cp·dp, and a dense model has ep = 1",
    7: "sequence length not divisible by cp (cp needs flash attention)",
    8: "DeepSpeed ZeRO-2/3 cannot be combined with pipeline parallelism (use fsdp or zero1)",
    9: "does not fit in memory",
    10: "block recompute would rebuild no layer or every layer (that is recompute=none or full)",
}


def evaluate_arrays(job: TrainingJob, pa: PlanArrays, n_gpus: int) -> TrainingArrays:
    """Memory and step time for every plan in `pa` on `n_gpus` GPUs of `job.cluster`."""
    m_ = job.model
    cl = job.cluster
    acc = cl.accelerator
    eff = eff_params.efficiency_for(acc.generation)
    f64 = np.float64
    tp, pp, dp, cp, ep, vpp, mb = (x.astype(f64) for x in (pa.tp, pa.pp, pa.dp, pa.cp, pa.ep, pa.vpp, pa.mb))
    zero, rec, sp, flash = pa.zero, pa.recompute, pa.sp, pa.flash
    # DeepSpeed ZeRO-3 fetches parameter by parameter (flat rings through the NIC)
    ds_zero3 = pa.deepspeed & (zero == 3)
    L, d, s, B = m_.n_layers, m_.d_model, job.seq_len, job.global_batch

    # ---- validity ----------------------------------------------------------
    reason = np.zeros(len(pa), dtype=np.int64)

    def flag(cond, code):
        np.copyto(reason, code, where=(reason == 0) & cond)

    flag(pa.tp * pa.pp * pa.dp * pa.cp != n_gpus, 1)
    # stages may hold uneven layer counts (the slowest holds ceil(L/pp)); interleaving needs equal chunks
    flag(pa.pp * pa.vpp > L, 2)  # uneven stages/chunks are allowed (the busiest holds the ceiling)
    kv = m_.kv_heads
    flag((m_.n_heads % pa.tp != 0) | ((kv % pa.tp != 0) & (pa.tp % kv != 0)), 3)
    flag(B % (pa.dp * pa.mb) != 0, 4)
    n_micro = np.maximum(B // np.maximum(pa.dp * pa.mb, 1), 1)
    flag((pa.vpp > 1) & ((pa.pp == 1) | (n_micro % np.maximum(pa.pp, 1) != 0)), 5)
    if m_.is_moe:
        # MoE parallel folding (Megatron-Core, expert tensor parallel 1): the expert layers lay their own
        # EP × expert-DP grid over the same tp·cp·dp ranks, so ep need only divide that product
        flag((m_.n_experts % pa.ep != 0) | ((pa.tp * pa.cp * pa.dp) % pa.ep != 0), 6)
    else:
        flag(pa.ep != 1, 6)
    flag((s % pa.cp != 0) | ((pa.cp > 1) & ~flash), 7)
    # DeepSpeed refuses ZeRO-2/3 with its pipeline engine; PyTorch FSDP/HSDP composes with PP (torchtitan)
    flag((pa.pp > 1) & ((zero == 2) | ds_zero3), 8)
    m = n_micro.astype(f64)

    # ---- parameters per GPU --------------------------------------------------
    if m_.is_moe:
        expert_p_layer = m_.n_experts * m_.mlp_params(m_.ffn_hidden)
        shared_p_layer = m_.moe_layer_params() - expert_p_layer
        dense_layers = m_.n_layers - m_.n_moe_layers
        nonexp_p = dense_layers * m_.dense_layer_params() + m_.n_moe_layers * shared_p_layer
        exp_p = m_.n_moe_layers * expert_p_layer
    else:
        nonexp_p = m_.n_layers * m_.dense_layer_params()
        exp_p = 0
    emb_p = m_.embedding_params()
    # first stage holds the input embedding, the last the output projection (both when pp = 1)
    emb_stage = np.where(pp > 1, emb_p / (1 if m_.tied_embeddings else 2), emb_p)
    layers_stage = np.ceil(L / pp)  # the busiest stage
    p_nonexp_gpu = (nonexp_p * layers_stage / L + emb_stage) / tp
    # experts are split over the ep ranks whole (expert TP 1) when ep > 1, else over the TP ranks
    etp = np.where(ep > 1, 1.0, tp)
    p_exp_gpu = exp_p * layers_stage / L / (etp * ep)
    p_gpu = p_nonexp_gpu + p_exp_gpu

    # ---- model state memory (sharding over the data-parallel group) --------
    # Context-parallel ranks hold the same weights and see different tokens, so gradients are reduced,
    # and ZeRO/FSDP state sharded, over dp·cp ranks (Megatron's data-parallel group "with context
    # parallel", torchtitan's dp_shard_cp mesh).
    dpcp = dp * cp
    shard = dpcp.copy()
    if np.any(pa.hsdp):
        # HSDP shards inside the fast-link domain (a node; a TPU slice) and replicates across domains
        shard = np.where(pa.hsdp, np.minimum(dpcp, np.maximum(cl.fast_domain // np.maximum(pa.tp, 1), 1)), dpcp)
    exp_shard = np.maximum(shard * tp / (etp * ep), 1)  # the expert data-parallel group
    w_bytes_el = 4.0 if job.precision == "fp32" else 2.0
    opt_el = optimizer_state_bytes(job.optimizer)

    # With pipeline parallelism FSDP keeps the stage's weights and gradients unsharded across the
    # micro-batches of a step (torchtitan/Llama 3: no reshard after forward), so only the optimizer
    # state stays sharded and the weights are gathered once per step.
    fsdp_pp = (zero == 3) & (pa.pp > 1) & ~ds_zero3

    def sharded(el_bytes, stage_needed):
        on = (zero >= stage_needed) & ~(fsdp_pp & (stage_needed >= 2))
        return el_bytes * (np.where(on, p_nonexp_gpu / shard, p_nonexp_gpu) + np.where(on, p_exp_gpu / exp_shard, p_exp_gpu))

    weights_b = sharded(w_bytes_el, 3)
    grads_b = sharded(w_bytes_el, 2)
    opt_b = sharded(opt_el, 1)

    # ---- buffers -------------------------------------------------------------
    h = d
    s_loc = s / cp
    sbh = s_loc * mb * h
    layer_p_gpu = (nonexp_p / tp + exp_p / (etp * ep)) / L
    # FSDP gathers a whole layer (current + prefetched); DeepSpeed ZeRO-3 fetches parameter by parameter
    largest_matrix = m_.d_model * max(m_.ffn_hidden, m_.n_heads * m_.hd) / tp
    gather_unit = np.where(ds_zero3, largest_matrix, layer_p_gpu)
    gather_buf = np.where(zero == 3, 2.0 * gather_unit * w_bytes_el, 0.0)
    tp_buf = np.where(tp > 1, 2.0 * sbh * 2, 0.0)
    grad_bucket = np.where(dp > 1, np.minimum(p_gpu * 4.0, 0.1 * 2**30), 0.0)
    buffers_b = gather_buf + tp_buf + grad_bucket

    # ---- activations (Korthikanti et al. 2022, generalised; see memory.py) --
    prec = job.precision
    act_layer_full = activation_bytes_per_layer(m_, s, mb, tp, sp, 0, flash | (rec == 1), cp, prec)
    act_layer = activation_bytes_per_layer(m_, s, mb, tp, sp, rec, flash, cp, prec)
    in_flight = np.minimum(m, pp)
    interleave = np.where(vpp > 1, 1.0 + (pp - 1) / (pp * vpp), 1.0)
    logits = logits_bytes(m_, s, mb, tp, cp)
    frag = eff_params.ALLOCATOR_FRAGMENTATION
    # block recompute: k of the `chunk` layers of each model chunk keep only their input. The share kept
    # whole, f, is the largest the memory allows (memory is linear in f on each of the two stage branches).
    block = rec == 3
    chunk = np.ceil(L / (pp * vpp))
    k_rec = np.zeros_like(tp)
    block_is_full = np.zeros(len(pa), dtype=bool)
    if np.any(block):
        ckpt = activation_bytes_per_layer(m_, s, mb, tp, sp, 2, flash, cp, prec)
        room = ((acc.memory_bytes - eff_params.FRAMEWORK_FIXED_BYTES - weights_b - grads_b - opt_b) / (1.0 + frag)
                - buffers_b - act_layer_full)
        gain = np.maximum(act_layer - ckpt, 1.0)
        c_first = layers_stage * in_flight * interleave
        f_first = (room / c_first - ckpt) / gain
        f_last = ((room - logits) / layers_stage - ckpt) / gain
        f_max = np.clip(np.minimum(f_first, f_last), 0.0, 1.0)
        auto = np.ceil((1.0 - f_max) * chunk - 1e-9)
        pinned = pa.rec_layers > 0
        k_rec = np.where(block, np.where(pinned, np.minimum(pa.rec_layers, chunk), auto), 0.0)
        flag(block & ~pinned & (k_rec <= 0), 10)
        block_is_full = block & ~pinned & (k_rec >= chunk)
        keep = 1.0 - k_rec / chunk
        act_layer = np.where(block, ckpt + keep * (act_layer - ckpt), act_layer)
    rec_frac = np.where(rec == 2, 1.0, np.where(block, k_rec / chunk, 0.0))  # share of layers rebuilt
    act_first = layers_stage * in_flight * act_layer * interleave
    act_last = layers_stage * act_layer + logits
    act_b = np.maximum(act_first, act_last)
    # full recompute rebuilds one layer's activations at a time during backward
    act_b = act_b + np.where(rec_frac > 0, act_layer_full, 0.0)
    dynamic = act_b + buffers_b
    framework_b = eff_params.FRAMEWORK_FIXED_BYTES + frag * dynamic

    # ---- compute per micro-batch per layer (forward) ------------------------
    clock = eff_params.power_cap_factor(acc)  # sustained compute of power-capped parts
    peak = job.peak_flops_per_s * clock
    peak16 = (acc.peak("bf16") if acc.supports("bf16") else job.peak_flops_per_s) * clock
    mm_eff = eff.fp8_matmul if job.precision == "fp8" else eff.matmul
    tokens_mb = mb * s_loc
    dense_p = dense_matmul_params(m_)
    dense_p_layer = dense_p / L
    mm_flops_layer = 2.0 * tokens_mb * dense_p_layer / tp
    narrow = np.minimum(h, np.minimum(m_.n_heads * m_.hd / tp, m_.ffn_hidden / tp))
    tok_gemm = tokens_mb
    if m_.is_moe:
        # an expert GEMM sees the tokens routed to it from its EP group (each rank brings tokens_mb/tp
        # when experts are whole) and its full width
        narrow = np.where(ep > 1, np.minimum(h, np.minimum(m_.n_heads * m_.hd / tp, m_.ffn_hidden)), narrow)
        tok_gemm = tokens_mb * ep / np.where(ep > 1, tp, 1.0) * m_.experts_per_token / m_.n_experts
    g = _gemm_eff(tok_gemm) * _gemm_eff(narrow)
    mm_rate = peak * mm_eff * g
    w_read = 2.0 * (dense_p_layer / tp)  # weights streamed once per GEMM pass
    bw = acc.mem_bw_bytes_per_s * eff.memory_bw
    mm_fwd = np.maximum(mm_flops_layer / mm_rate, w_read / bw)

    attn_flops_causal = attention_fwd_flops_per_token(m_, s, causal=True) / L  # per token per layer
    attn_flops_full = attention_fwd_flops_per_token(m_, s, causal=False) / L
    attn_eff = np.where(pa.fa3, eff_params.fa3_attention_for(acc.generation), eff.attention)
    attn_fwd_flash = tokens_mb * attn_flops_causal / tp / peak16 / attn_eff
    attn_fwd_plain = tokens_mb * attn_flops_full / tp / (peak16 * eff.matmul * _gemm_eff(m_.hd))
    score_bytes = tokens_mb * m_.n_heads / tp * s * eff_params.SCORE_BYTES_PER_ELEMENT
    attn_fwd = np.where(flash, attn_fwd_flash, attn_fwd_plain + score_bytes / bw)
    attn_bwd = np.where(flash, attn_fwd_flash * eff_params.FLASH_BWD_OVER_FWD, 2.0 * attn_fwd)

    ffn_el = m_.ffn_hidden * (m_.experts_per_token + m_.n_shared_experts if m_.is_moe else 1)
    ew_bytes = tokens_mb * (
        eff_params.ELEMENTWISE_BYTES_PER_D * h / np.where(sp, tp, 1.0) + eff_params.ELEMENTWISE_BYTES_PER_FFN * ffn_el / tp
    )
    if m_.is_moe:
        # token permutation around the experts: each token read once and written k times before the expert
        # GEMMs, the k outputs read back and summed after them (16-bit), on the MoE layers
        ew_bytes = ew_bytes + (m_.n_moe_layers / L) * tokens_mb / np.where(sp, tp, 1.0) * (
            eff_params.MOE_PERMUTE_BYTES_PER_COPY * (m_.experts_per_token + 1) * h)
    if job.precision == "fp8":
        # fp8 GEMMs cast their 16-bit inputs (read 2 + write 1 byte + amax read 2) and weights each pass
        gemm_in = h + m_.attn_dim / tp + h + ffn_el / tp
        ew_bytes = ew_bytes + tokens_mb * gemm_in * eff_params.FP8_CAST_BYTES + 3.0 * dense_p_layer / tp
    ew_fwd = ew_bytes / bw

    # ---- communication per layer per micro-batch ----------------------------
    # Ranks are ordered tp (innermost), cp, dp, pp, as Megatron-LM does. A group whose members sit
    # `stride` ranks apart spans nodes when stride·size > GPUs per node; NCCL then moves the inter-node
    # share through the NICs of all k members it has in a node, so its bus bandwidth is min(NVLink, k·NIC).
    gpn = cl.fast_domain  # a node, or a TPU slice's ICI domain
    nv_bw = cl.intra_node_bw_bytes_per_s * eff_params.NVLINK_BUS_EFFICIENCY
    net_bw = cl.inter_node_bw_bytes_per_s * eff_params.NETWORK_BUS_EFFICIENCY

    def group_link(stride, size):
        spans = stride * size > gpn
        k = np.clip(gpn // np.maximum(stride, 1), 1, None)
        k = np.minimum(k, size)
        bw_ = np.where(spans, np.minimum(nv_bw, k * net_bw), nv_bw)
        lat = np.where(spans, cl.inter_node_latency_s, cl.intra_node_latency_s)
        return bw_, lat, spans, k

    tp_bw, tp_lat, _, _ = group_link(1.0, tp)
    act_msg = tokens_mb * h * 2.0
    tp_one = _collective_time(act_msg, tp, 2.0, tp_bw, tp_lat)  # all-reduce (= all-gather + reduce-scatter)
    # one collective pair around attention, one around the MLP; a folded MoE layer (ep > 1) routes its
    # sequence-parallel shard of tokens straight to the experts, so its MLP needs none
    n_tp = 2.0 - (m_.n_moe_layers / L if m_.is_moe else 0.0) * (ep > 1)
    tp_fwd = n_tp * tp_one
    tp_bwd = n_tp * tp_one
    # TP overlap (all-gather/reduce-scatter split into chunks pipelined with the GEMMs that consume or
    # produce them) exposes only what the overlap leaves (see _overlap)
    tp_fwd = np.where(pa.tp_overlap, _overlap(mm_fwd, tp_fwd) - mm_fwd, tp_fwd)
    tp_bwd = np.where(pa.tp_overlap, _overlap(2.0 * mm_fwd, tp_bwd) - 2.0 * mm_fwd, tp_bwd)

    # context parallel: ring exchange of K and V chunks, overlapped with attention compute
    kv_msg = tokens_mb * 2.0 * m_.kv_heads * m_.hd * 2.0 / np.minimum(tp, kv)
    cp_bw, _, cp_spans, _ = group_link(tp, cp)
    cp_bw = np.where(cp_spans, net_bw, cp_bw)  # ring neighbours: one NIC each
    cp_comm = np.where(cp > 1, (cp - 1) * kv_msg / cp_bw, 0.0)
    cp_fwd = _overlap(attn_fwd, cp_comm) - attn_fwd
    cp_bwd = _overlap(attn_bwd, 2.0 * cp_comm) - attn_bwd

    # expert parallel all-to-all: dispatch + combine, forward and backward. Each token goes to k experts
    # spread evenly over the ep ranks. Hierarchical dispatch (DeepEP, Megatron HybridEP, DeepSeek-V3)
    # sends a token once to every other node holding one of its experts, through the GPU's own NIC, and
    # forwards it there over NVLink; copies for experts on the GPU's own node go over NVLink. NIC and
    # NVLink traffic run concurrently, so the slower of the two sets the time.
    if m_.is_moe:
        frac_moe = m_.n_moe_layers / L
        k_e = m_.experts_per_token
        tok_ep = tokens_mb / np.where(sp, tp, 1.0)
        _, _, ep_spans, ep_k = group_link(1.0, ep)  # folded: EP ranks are consecutive
        ep_k = np.minimum(ep_k, ep)
        nodes = np.ceil(ep / ep_k)
        # nodes a token's experts may sit on: all, or under group-limited routing (DeepSeek-V2/V3: experts
        # from at most topk_group of n_group groups; V3 lays one group per node of its EP-64) the nodes
        # those groups span. Of the distinct nodes hit, the token's own is a share 1/nodes.
        allowed = nodes
        if m_.expert_groups:
            allowed = np.minimum(nodes, m_.expert_groups_per_token * np.maximum(nodes / m_.expert_groups, 1.0))
        hit = allowed * (1.0 - (1.0 - 1.0 / allowed) ** k_e)
        remote_nodes = np.where(ep_spans, hit * (1.0 - 1.0 / nodes), 0.0)
        # copies over NVLink: to the node's other GPUs holding the token's experts, and the forwarding of
        # tokens that arrived from other nodes
        nvl_copies = k_e * (ep_k - 1) / ep + np.where(ep_spans, k_e * (ep - ep_k) / ep * (ep_k - 1) / ep_k, 0.0)
        # forward: dispatch in the compute precision (fp8 runs dispatch fp8, DeepSeek-V3 §3.3), combine in
        # 16 bit; backward: both in 16 bit
        el_disp = eff_params.DISPATCH_BYTES_FP8 if job.precision == "fp8" else 2.0
        one_el = np.maximum(remote_nodes * h / net_bw, nvl_copies * h / nv_bw) * tok_ep
        a2a_f = np.where(ep > 1, (el_disp + 2.0) * one_el, 0.0) * frac_moe
        a2a_b = np.where(ep > 1, 4.0 * one_el, 0.0) * frac_moe
        # overlapped with the compute of another micro-batch (DualPipe; Megatron's 1F1B a2a overlap):
        # only what the overlap leaves stays exposed (see _overlap)
        busy_f, busy_b = mm_fwd + attn_fwd, 2.0 * mm_fwd + attn_bwd
        a2a_f = np.where(pa.ep_overlap, _overlap(busy_f, a2a_f) - busy_f, a2a_f)
        a2a_b = np.where(pa.ep_overlap, _overlap(busy_b, a2a_b) - busy_b, a2a_b)
    else:
        a2a_f = a2a_b = np.zeros_like(tp)

    # host work of each MoE layer pass the GPU waits for, unless another micro-batch runs beside it
    moe_host = np.where(pa.ep_overlap, 0.0, eff_params.MOE_LAYER_HOST_S) * (m_.n_moe_layers / L if m_.is_moe else 0.0)
    layer_fwd = mm_fwd + attn_fwd + ew_fwd + tp_fwd + cp_fwd + a2a_f + moe_host
    layer_bwd = 2.0 * mm_fwd + attn_bwd + 2.0 * ew_fwd + tp_bwd + cp_bwd + a2a_b + moe_host
    layer_rec = np.where(rec == 1, attn_fwd, rec_frac * layer_fwd)

    # LM head + loss on the last stage (fwd + bwd, vocab split over TP)
    head_flops = 6.0 * tokens_mb * lm_head_params(m_) / tp
    logit_elems = tokens_mb * m_.vocab_size / tp
    head_t = head_flops / (peak * mm_eff * _gemm_eff(tokens_mb)) + eff_params.LOSS_BYTES_PER_LOGIT * logit_elems / bw

    # ---- FSDP / ZeRO-3 parameter traffic per micro-batch ---------------------
    # All-gather the weights for forward and again for backward, reduce-scatter the gradients: one
    # collective per layer per pass, prefetched beside compute. PyTorch FSDP's flat-parameter collectives
    # use hierarchical NCCL rings; DeepSpeed ZeRO-3's per-parameter fetches are modelled as flat rings,
    # each rank's share through its own NIC (what Narayanan et al. 2021 Table 2 shows at scale).
    sh_bw, sh_lat, sh_spans, _ = group_link(tp, shard)
    ds3 = ds_zero3
    sh_bw = np.where(ds3 & sh_spans, net_bw, sh_bw)
    stage_param_bytes = 2.0 * p_gpu
    per_layer = stage_param_bytes / layers_stage
    gather = layers_stage * _collective_time(per_layer, shard, 1.0, sh_bw, sh_lat)
    fsdp_per_mb = np.where((zero == 3) & ~fsdp_pp, 3.0 * gather, 0.0)
    # FSDP with PP: gather once per step (before the first forward) and reduce-scatter once (after the
    # last backward); the latter is overlapped like a data-parallel gradient reduction
    fsdp_pp_gather = np.where(fsdp_pp, gather, 0.0)

    # ---- pipeline schedule ---------------------------------------------------
    stage_compute_mb = layers_stage * (layer_fwd + layer_bwd + layer_rec) + head_t
    # overlapped traffic costs only what it adds beyond compute (see _overlap)
    stage_mb = _overlap(stage_compute_mb, fsdp_per_mb)
    bubble = (pp - 1) / vpp * stage_mb
    p2p_msg = act_msg / np.where(tp > 1, tp, 1.0)  # scatter/gather over the TP ranks
    pp_spans = tp * cp * dp >= gpn  # neighbouring stages sit on different nodes
    pp_bw = np.where(pp_spans, net_bw, nv_bw)
    pp_lat = np.where(pp_spans, cl.inter_node_latency_s, cl.intra_node_latency_s)
    pp_comm = np.where(pp > 1, 2.0 * vpp * m * (p2p_msg / pp_bw + pp_lat), 0.0)

    # ---- data-parallel gradient reduction (once per step) -------------------
    dp_bw, dp_lat, _, _ = group_link(tp, dpcp)
    dp_bytes = w_bytes_el * p_gpu
    # no sharding: one all-reduce of the gradients. ZeRO-1/2 and the distributed optimizer split it: the
    # gradient reduce-scatter overlaps the backward; DeepSpeed all-gathers the updated 16-bit weights
    # after the optimizer step with nothing to hide behind.
    dp_total = np.where(zero == 0, _collective_time(dp_bytes, dpcp, 2.0, dp_bw, dp_lat),
                        np.where(zero == 3, 0.0, _collective_time(dp_bytes, dpcp, 1.0, dp_bw, dp_lat)))
    # Megatron's distributed optimizer overlaps that all-gather with the next step's first forward
    # (--overlap-param-gather, on in NeMo/Megatron-Core recipes).
    gather_t = np.where((zero == 1) | (zero == 2), _collective_time(dp_bytes, dpcp, 1.0, dp_bw, dp_lat), 0.0)
    first_fwd = layers_stage * layer_fwd
    param_gather = np.where(pa.deepspeed, gather_t, _overlap(first_fwd, gather_t) - first_fwd)
    dp_total = dp_total + np.where(fsdp_pp, gather, 0.0)  # FSDP+PP gradient reduce-scatter
    if np.any(pa.hsdp):  # HSDP also all-reduces gradients across the replicas of a shard
        rep = dpcp / shard
        rep_bw, rep_lat, _, _ = group_link(tp * shard, rep)
        dp_total = dp_total + np.where(pa.hsdp, _collective_time(dp_bytes / shard, rep, 2.0, rep_bw, rep_lat), 0.0)
    # overlapped with the backward pass of the last micro-batch
    last_bwd = layers_stage * layer_bwd
    dp_exposed = _overlap(last_bwd, dp_total) - last_bwd + param_gather

    # ---- optimizer step --------------------------------------------------------
    opt_params = np.where(zero >= 1, p_nonexp_gpu / shard + p_exp_gpu / exp_shard, p_gpu)
    optimizer_t = opt_params * eff_params.OPTIMIZER_BYTES_PER_PARAM / bw

    # ---- totals -----------------------------------------------------------------
    work_mb = m  # micro-batches per step per pipeline
    compute_t = work_mb * (layers_stage * 3.0 * mm_fwd + head_t)
    attention_t = work_mb * layers_stage * (attn_fwd + attn_bwd)
    elementwise_t = work_mb * layers_stage * 3.0 * ew_fwd
    recompute_t = work_mb * layers_stage * layer_rec
    tp_t = work_mb * layers_stage * (tp_fwd + tp_bwd)
    cp_t = work_mb * layers_stage * (cp_fwd + cp_bwd)
    ep_t = work_mb * layers_stage * (a2a_f + a2a_b)
    moe_host_t = work_mb * layers_stage * 2.0 * moe_host
    fsdp_t = work_mb * (stage_mb - stage_compute_mb) + fsdp_pp_gather
    step = work_mb * stage_mb + bubble + pp_comm + dp_exposed + optimizer_t + fsdp_pp_gather

    out = TrainingArrays(
        valid=reason == 0, reason=reason,
        weights_bytes=weights_b, gradients_bytes=grads_b, optimizer_bytes=opt_b, activations_bytes=act_b,
        buffers_bytes=buffers_b, framework_bytes=framework_b,
        recompute_layers=k_rec.astype(np.int64), recompute_fraction=rec_frac,
        compute_s=compute_t, attention_s=attention_t, elementwise_s=elementwise_t, recompute_s=recompute_t,
        tp_comm_s=tp_t, cp_comm_s=cp_t, ep_comm_s=ep_t, moe_host_s=moe_host_t, pp_comm_s=pp_comm, bubble_s=bubble,
        dp_comm_s=dp_exposed, fsdp_comm_s=fsdp_t, optimizer_s=optimizer_t, step_s=step,
    )
    fits = out.memory_bytes <= acc.memory_bytes
    np.copyto(reason, 9, where=(reason == 0) & ~fits)
    np.copyto(reason, 10, where=(reason == 0) & block_is_full)
    out.valid = reason == 0
    return out


def hardware_flops_per_token(job: TrainingJob, recompute: np.ndarray | int, recompute_fraction=None,
                             causal: bool = True) -> np.ndarray:
    """FLOPs the GPUs execute per token: model FLOPs + recomputed forward work (`recompute_fraction`: share
    of layers rebuilt whole, for block recompute; full recompute is 1)."""
    fl = training_flops_per_token(job.model, job.seq_len, causal=causal)
    fwd_layers = (fl.dense_flops + fl.attention_flops) / 3.0
    attn_fwd = fl.attention_flops / 3.0
    rec = np.asarray(recompute)
    frac = np.where(rec == 2, 1.0, 0.0) if recompute_fraction is None else np.asarray(recompute_fraction)
    extra = np.where(rec == 1, attn_fwd, frac * fwd_layers)
    return fl.total_flops + extra
