"""Will it fit? Pre-training, full fine-tuning, LoRA, QLoRA and serving of a model on N given GPUs.

Full training and full fine-tuning use the training planner's search (every parallel layout, ZeRO /
FSDP sharding, recompute) and report the fastest layout that fits, else the smallest that does not.
LoRA and QLoRA are computed here (they are not parallel-layout problems):

- base weights frozen: LoRA in 16-bit (2 bytes/param); QLoRA stores every linear layer in NF4 with
  double quantisation, 4.127 bits/param (Dettmers et al. 2023, §3: 0.127 bits of constants per
  parameter), and keeps embeddings, LM head and norms in 16-bit;
- adapters: rank r on every linear layer of attention and MLP ("all-linear", what QLoRA found necessary
  to match full fine-tuning); r·(d_in + d_out) parameters per matrix, trained with fp32 weights, fp32
  gradients and Adam's two fp32 moments = 16 bytes per adapter parameter;
- activations with gradient checkpointing (the default of LoRA/QLoRA recipes): each layer's input
  (2·s·b·h bytes) is kept, one layer is rebuilt at a time in the backward pass; the loss over the logits
  at its peak (memory.LOSS_PEAK_BYTES_PER_LOGIT · s·b·V bytes);
- on several GPUs the frozen base is sharded with FSDP when one copy per GPU does not fit (QLoRA + FSDP,
  Answer.AI 2024), plus a gathered layer in flight;
- the framework's fixed memory and allocator fragmentation are the training estimator's
  (efficiency.FRAMEWORK_FIXED_BYTES, ALLOCATOR_FRAGMENTATION).
Serving uses the serving estimator's replica memory (weights, runtime, activation workspace, and the KV
cache that the rest holds): the longest context one sequence can have, and how many sequences of a
given context fit at once.
"""

from __future__ import annotations

from pydantic import BaseModel

from flopwise.errors import FlopwiseError
from flopwise.estimate import efficiency as eff
from flopwise.estimate.memory import activation_bytes_per_layer, logits_bytes
from flopwise.estimate.training import TrainingJob
from flopwise.spec.hardware import Cluster
from flopwise.spec.model import ModelSpec

GIB = 2**30
NF4_BYTES_PER_PARAM = 4.127 / 8  # QLoRA: NF4 + double-quantised constants (Dettmers et al. 2023)
ADAPTER_STATE_BYTES_PER_PARAM = 16.0  # fp32 weight + fp32 grad + Adam m, v
DEFAULT_LORA_RANK = 16
DEFAULT_FINETUNE_SEQ_LEN = 2048
DEFAULT_SERVE_CONTEXT = 4096
#: Shortest context a served model must hold for a sequence to count as "fits".
MIN_SERVE_CONTEXT = 512
SERVE_PRECISIONS = ("bf16", "fp8", "int8", "int4")
MAX_GPUS_SEARCHED = 4096


class FitMemory(BaseModel):
    """Bytes per GPU by part (what is stored where depends on the task)."""

    weights_bytes: float
    gradients_bytes: float = 0.0
    optimizer_bytes: float = 0.0
    adapter_bytes: float = 0.0  # LoRA: adapter weights + grads + optimizer states
    activations_bytes: float = 0.0
    kv_cache_bytes: float = 0.0
    buffers_bytes: float = 0.0
    framework_bytes: float = 0.0
    total_bytes: float
    capacity_bytes: float


class FitRow(BaseModel):
    task: str
    fits: bool
    gpus: int
    how: str  # the plan or settings that fit (or the closest miss)
    memory: FitMemory
    min_gpus: int | None = None  # smallest power-of-two multiple of --gpus that fits, when it does not
    max_context: int | None = None  # serving: longest single sequence
    max_batch: int | None = None  # serving: sequences of `context` tokens at once
    context: int | None = None
    note: str = ""


class FitResult(BaseModel):
    model: str
    params_total: float
    accelerator: str
    gpus: int
    capacity_bytes: float
    rows: list[FitRow]
    assumptions: list[str]


# ---- full training / fine-tuning via the planner ------------------------------------------------------------

def _train_precision(cluster: Cluster) -> str:
    return "bf16" if "bf16" in cluster.accelerator.peak_flops_per_s else "fp16"


def _full(model: ModelSpec, cluster: Cluster, n: int, seq: int, batch: int, optimizer: str) -> FitRow | None:
    from flopwise.plan.search import plan_at, search

    job = TrainingJob(model, cluster, batch, seq, _train_precision(cluster), optimizer)
    res = search(job, n)
    r = res.results
    if len(res.ranked):
        i, fits = int(res.ranked[0]), True
    else:
        closest = res.closest_to_fitting()
        if closest is None:
            return FitRow(task="", fits=False, gpus=n, how=f"no valid layout: {res.most_common_reason()}",
                          memory=FitMemory(weights_bytes=0, total_bytes=0, capacity_bytes=cluster.memory_bytes))
        i, fits = closest, False
    plan = plan_at(res.arrays, i, job.precision, res.results)
    mem = FitMemory(
        weights_bytes=float(r.weights_bytes[i]), gradients_bytes=float(r.gradients_bytes[i]),
        optimizer_bytes=float(r.optimizer_bytes[i]), activations_bytes=float(r.activations_bytes[i]),
        buffers_bytes=float(r.buffers_bytes[i]), framework_bytes=float(r.framework_bytes[i]),
        total_bytes=float(r.memory_bytes[i]), capacity_bytes=cluster.memory_bytes,
    )
    how = f"{plan.label()}, seq {seq}, batch {batch} seqs, {optimizer}, {job.precision}"
    return FitRow(task="", fits=fits, gpus=n, how=how if fits else f"smallest: {how}", memory=mem)


def _min_gpus(check, n: int) -> int | None:
    """The smallest power of two above n GPUs that passes `check` (the counts clusters come in)."""
    k = 1 << n.bit_length()
    while k <= MAX_GPUS_SEARCHED:
        if check(k):
            return k
        k *= 2
    return None


# ---- LoRA / QLoRA ------------------------------------------------------------------------------------------

def lora_params(model: ModelSpec, rank: int) -> float:
    """Adapter parameters of rank `rank` on every linear layer of attention and MLP (all experts)."""
    m = model
    d = m.d_model
    q_out, kv_out = m.n_heads * m.hd, m.kv_heads * m.hd
    attn = rank * ((d + q_out) + 2 * (d + kv_out) + (m.attn_dim + d))
    mats = 3 if m.mlp == "swiglu" else 2

    def mlp(hidden):
        return rank * mats * (d + hidden)

    dense_layers = m.n_layers - m.n_moe_layers
    total = m.n_layers * attn + dense_layers * mlp(m.dense_ffn_hidden or m.ffn_hidden)
    if m.is_moe:
        shared = m.n_shared_experts * mlp(m.shared_expert_hidden or m.ffn_hidden)
        total += m.n_moe_layers * (m.n_experts * mlp(m.ffn_hidden) + shared)
    return float(total)


def _matmul_params_all(model: ModelSpec) -> float:
    """Non-embedding parameters in linear layers (all experts), i.e. what QLoRA quantises."""
    norms = model.n_layers * model.norm_params() + model.final_norm_params()
    return float(model.non_embedding_params() - norms)


def lora_memory(model: ModelSpec, cluster: Cluster, n: int, seq: int, micro_batch: int, rank: int,
                quantized: bool) -> tuple[FitMemory, str]:
    """Bytes per GPU of LoRA (16-bit base) or QLoRA (NF4 base) fine-tuning on n GPUs."""
    lin = _matmul_params_all(model)
    other = model.params_total - lin  # embeddings, LM head, norms: 16-bit
    base = lin * (NF4_BYTES_PER_PARAM if quantized else 2.0) + other * 2.0
    adapters = lora_params(model, rank)
    layer_inputs = model.n_layers * activation_bytes_per_layer(model, seq, micro_batch, recompute="full")
    one_layer = activation_bytes_per_layer(model, seq, micro_batch, recompute="none", flash_attention=True)
    logits = logits_bytes(model, seq, micro_batch)
    acts = layer_inputs + one_layer + logits
    largest = model.d_model * max(model.ffn_hidden, model.n_heads * model.hd)
    dequant = 2.0 * largest if quantized else 0.0  # one matrix dequantised to 16-bit at a time
    layer_base = (model.params_total - other) / model.n_layers * (NF4_BYTES_PER_PARAM if quantized else 2.0)
    capacity = cluster.memory_bytes

    def total(weights, adapter_b, buffers):
        dyn = acts + buffers
        fw = eff.FRAMEWORK_FIXED_BYTES + eff.ALLOCATOR_FRAGMENTATION * dyn
        return weights + adapter_b + dyn + fw, fw

    how = "one copy of the base per GPU"
    weights, adapter_b, buffers = base, adapters * ADAPTER_STATE_BYTES_PER_PARAM, dequant
    tot, fw = total(weights, adapter_b, buffers)
    if n > 1 and tot > capacity:
        # FSDP shards the frozen base and the adapters' states; it gathers the current and the prefetched layer
        weights, adapter_b, buffers = base / n, adapter_b / n, dequant + 2.0 * layer_base
        tot, fw = total(weights, adapter_b, buffers)
        how = f"base and adapters sharded with FSDP over {n} GPUs"
    mem = FitMemory(weights_bytes=weights, adapter_bytes=adapter_b,
                    activations_bytes=acts, buffers_bytes=buffers, framework_bytes=fw, total_bytes=tot,
                    capacity_bytes=capacity)
    return mem, how


# ---- serving ---------------------------------------------------------------------------------------------

def _serve_split(model: ModelSpec, cluster: Cluster, n: int) -> tuple[int, int]:
    """(tp, pp) with tp·pp = n: the largest tensor-parallel degree inside a node that the heads allow."""
    def tp_ok(t):
        kv = model.kv_heads
        return model.n_heads % t == 0 and (kv % t == 0 or t % kv == 0) and t <= cluster.gpus_per_node
    for t in sorted((t for t in range(1, n + 1) if n % t == 0), reverse=True):
        if tp_ok(t):
            return t, n // t
    return 1, n


def serve_row(model: ModelSpec, cluster: Cluster, n: int, weights: str, context: int, kv: str = "bf16") -> FitRow:
    from flopwise.estimate import serving_efficiency as se
    from flopwise.estimate.serving import ReplicaPhysics

    tp, pp = _serve_split(model, cluster, n)
    phys = ReplicaPhysics(model, cluster, tp, pp, weights=weights, kv=kv)
    max_tokens = int(phys.max_tokens_in_cache)
    max_ctx = min(max_tokens, model.max_seq_len)
    ctx = min(context, model.max_seq_len)
    batch = min(max_tokens // max(ctx, 1), se.MAX_BATCH_PER_REPLICA)
    need = min(MIN_SERVE_CONTEXT, model.max_seq_len)
    fits = max_tokens >= need
    used_kv = phys.kv_capacity_bytes
    mem = FitMemory(weights_bytes=phys.weights_bytes, kv_cache_bytes=used_kv, activations_bytes=phys.activations_bytes,
                    framework_bytes=se.RUNTIME_RESERVED_BYTES,
                    total_bytes=phys.weights_bytes + used_kv + phys.activations_bytes + se.RUNTIME_RESERVED_BYTES,
                    capacity_bytes=phys.capacity_bytes)
    label = "bf16/fp16" if weights == "bf16" else weights
    how = f"tp={tp}" + (f", pp={pp}" if pp > 1 else "") + f", {label} weights, {kv} KV cache ({phys.kv_bytes_per_token / 1024:,.0f} KiB/token/GPU)"
    note = ""
    if fits and max_tokens < ctx:
        note = f"a {ctx:,}-token context does not fit; longest is {max_ctx:,}"
    if not fits:
        free = phys.capacity_bytes - phys.weights_bytes - phys.activations_bytes - se.RUNTIME_RESERVED_BYTES
        note = (f"weights {phys.weights_bytes / GIB:,.1f} GiB/GPU leave {max(free, 0) / GIB:,.1f} GiB; "
                f"not room for {need} tokens of KV cache")
    return FitRow(task=f"serve {label}", fits=fits, gpus=n, how=how, memory=mem, max_context=max_ctx if fits else 0,
                  max_batch=batch if fits else 0, context=ctx, note=note)


# ---- everything --------------------------------------------------------------------------------------------

def fit(model: ModelSpec, cluster: Cluster, n_gpus: int, seq_len: int | None = None, micro_batch: int = 1,
        lora_rank: int = DEFAULT_LORA_RANK, context: int | None = None, optimizer: str = "adam",
        tasks: tuple[str, ...] = ("pretrain", "full", "lora", "qlora", "serve")) -> FitResult:
    """Which tasks fit on `n_gpus` GPUs of `cluster`, with the memory breakdown of each."""
    if n_gpus <= 0:
        raise FlopwiseError(f"--gpus must be a positive integer, got {n_gpus}")
    if lora_rank <= 0:
        raise FlopwiseError(f"--lora-rank must be positive, got {lora_rank}")
    if micro_batch <= 0:
        raise FlopwiseError(f"--micro-batch must be positive, got {micro_batch}")
    ft_seq = min(DEFAULT_FINETUNE_SEQ_LEN, model.max_seq_len) if seq_len is None else seq_len
    if ft_seq <= 0:
        raise FlopwiseError(f"--seq-len must be positive, got {ft_seq}")
    if context is not None and context <= 0:
        raise FlopwiseError(f"--context must be a positive integer, got {context}")
    ctx = context or min(DEFAULT_SERVE_CONTEXT, model.max_seq_len)
    if ctx > model.max_seq_len:
        raise FlopwiseError(f"--context {ctx:,} exceeds {model.name}'s maximum of {model.max_seq_len:,} tokens")
    if lora_rank > model.d_model:
        raise FlopwiseError(f"--lora-rank {lora_rank} is larger than {model.name}'s width ({model.d_model}); "
                            "LoRA ranks are small (8-256)")
    from flopwise.plan.training import default_global_batch, default_seq_len

    rows: list[FitRow] = []
    if "pretrain" in tasks:
        s = default_seq_len(model)

        def pre(k):
            return _full(model, cluster, k, s, default_global_batch(s, k), optimizer)
        row = pre(n_gpus)
        row.task = f"pre-train (full, {optimizer})"
        if not row.fits:
            row.min_gpus = _min_gpus(lambda k: pre(k).fits, n_gpus)
        rows.append(row)
    if "full" in tasks:
        def ft(k):
            return _full(model, cluster, k, ft_seq, k * micro_batch, optimizer)
        row = ft(n_gpus)
        row.task = f"full fine-tune ({optimizer})"
        if not row.fits:
            row.min_gpus = _min_gpus(lambda k: ft(k).fits, n_gpus)
        rows.append(row)
    for name, q in (("lora", False), ("qlora", True)):
        if name not in tasks:
            continue
        mem, how = lora_memory(model, cluster, n_gpus, ft_seq, micro_batch, lora_rank, q)
        fits = mem.total_bytes <= mem.capacity_bytes
        label = "QLoRA (NF4 base)" if q else "LoRA (16-bit base)"
        row = FitRow(task=label, fits=fits, gpus=n_gpus, memory=mem,
                     how=f"rank {lora_rank} on all linear layers ({lora_params(model, lora_rank) / 1e6:,.1f}M adapter params), "
                         f"seq {ft_seq}, micro-batch {micro_batch}, gradient checkpointing, {how}")
        if not fits:
            row.min_gpus = _min_gpus(lambda k: lora_memory(model, cluster, k, ft_seq, micro_batch, lora_rank, q)[0].total_bytes
                                     <= cluster.memory_bytes, n_gpus)
        rows.append(row)
    if "serve" in tasks:
        for w in SERVE_PRECISIONS:
            row = serve_row(model, cluster, n_gpus, w, ctx)
            if not row.fits:
                row.min_gpus = _min_gpus(lambda k: serve_row(model, cluster, k, w, ctx).fits, n_gpus)
            rows.append(row)
    acc = cluster.accelerator
    assumptions = [
        f"{n_gpus} x {acc.id}, {acc.memory_bytes / GIB:.0f} GiB each ({cluster.name}, {cluster.gpus_per_node} per node)",
        f"model {model.name}: {model.params_total / 1e9:,.2f}B parameters",
        "full training: mixed precision, 16-bit weights and gradients + optimizer states "
        f"({optimizer}: see estimate/memory.OPTIMIZER_STATE_BYTES), the planner's best layout (ZeRO/FSDP, recompute)",
        f"pre-train at sequence length {default_seq_len(model)} (the model's context, at most 8192) and ~4M-token batches (~1k tokens per GPU beyond 4096 GPUs); fine-tunes at seq {ft_seq}",
        f"LoRA/QLoRA: rank {lora_rank} on all linear layers, adapters 16 B/param (fp32 + grad + Adam), "
        f"QLoRA base NF4 {NF4_BYTES_PER_PARAM:.3f} B/param (Dettmers et al. 2023), gradient checkpointing",
        f"framework: {eff.FRAMEWORK_FIXED_BYTES / GIB:.0f} GiB fixed + {eff.ALLOCATOR_FRAGMENTATION:.0%} fragmentation (training)",
        f"serving: weights + runtime + activation workspace, the rest (90%) for KV cache; fits = room for "
        f">= {MIN_SERVE_CONTEXT} tokens; batch counted at a {ctx:,}-token context",
    ]
    return FitResult(model=model.name, params_total=float(model.params_total), accelerator=acc.id, gpus=n_gpus,
                     capacity_bytes=acc.memory_bytes, rows=rows, assumptions=assumptions)
