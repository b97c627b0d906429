"""Training planner: from (model, cluster, batch, tokens) to a typed estimate with its breakdowns."""

from __future__ import annotations

import numpy as np
import math

from pydantic import BaseModel

from flopwise.errors import FlopwiseError, InfeasiblePlan
from flopwise.estimate.flops import training_flops, training_flops_per_token
from flopwise.estimate.memory import model_state_bytes
from flopwise.estimate.training import TrainingArrays, TrainingJob, hardware_flops_per_token
from flopwise.spec.hardware import Cluster
from flopwise.spec.model import ModelSpec
from flopwise.spec.precision import matmul_rate_key
from flopwise.plan.parallel import ParallelPlan
from flopwise.plan.search import SearchResult, SearchSpace, search
from flopwise.estimate.reliability import (
    ReliabilityEstimate,
    ReliabilityInputs,
    SimulationResult,
    checkpoint_bytes,
    estimate_reliability,
    simulate,
)
from flopwise.catalog.failures import FailureModel
from flopwise.catalog.track_record import TrackRecord
from flopwise.catalog.track_record import for_generation as track_record_for

DEFAULT_BATCH_TOKENS = 4 * 2**20  # ~4M tokens per step, typical of LLM pre-training


# Pre-training sequence length when none is given: the model's context, at most this. Long-context
# models pre-train at 4k-8k tokens and extend the context afterwards (Llama 3: 8192 then 128k; Qwen3 and
# DeepSeek-V3: 4096 then 32k+), so planning 15T tokens at 128k would price the wrong run.
DEFAULT_PRETRAIN_SEQ_LEN = 8192


def default_seq_len(model: ModelSpec) -> int:
    """The sequence length a pre-training plan uses when none is given."""
    return min(model.max_seq_len, DEFAULT_PRETRAIN_SEQ_LEN)


# Large runs keep at least about a thousand tokens per GPU in each step, or data parallelism runs out and
# the step drowns in model-parallel traffic: Llama 3 405B took 16M tokens on 16,384 H100s (8,192: 2,048
# each), Megatron's 1T 6.3M on 3,072 A100s, MT-NLG 3.9M on 4,480, PaLM 4M on 6,144 TPU v4 chips.
MIN_BATCH_TOKENS_PER_GPU = 1024


def default_global_batch(seq_len: int, n_gpus: int) -> int:
    """~4M tokens per step, or ~1k per GPU on large clusters: the odd factor of the GPU count (so that the
    batch divides over them) times the power of two that comes nearest."""
    tokens = max(DEFAULT_BATCH_TOKENS, MIN_BATCH_TOKENS_PER_GPU * n_gpus)
    odd = max(n_gpus, 1)
    while odd % 2 == 0:
        odd //= 2
    return odd * 2 ** max(0, round(math.log2(max(tokens / seq_len / odd, 1))))


class FlopsSummary(BaseModel):
    dense_flops: float
    lm_head_flops: float
    attention_flops: float
    flops_total: float
    flops_per_token: float


class MemoryBreakdown(BaseModel):
    """Bytes per GPU by component (the busiest pipeline stage)."""

    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    buffers_bytes: float
    framework_bytes: float
    total_bytes: float
    capacity_bytes: float
    fits: bool


class StepTime(BaseModel):
    """Seconds per optimizer step by component; the components add up to `step_s`."""

    compute_s: float
    attention_s: float
    elementwise_s: float
    recompute_s: float
    tp_comm_s: float
    cp_comm_s: float
    ep_comm_s: float
    moe_host_s: float
    pp_comm_s: float
    bubble_s: float
    dp_comm_s: float
    fsdp_comm_s: float
    optimizer_s: float
    step_s: float


class PlanSummary(BaseModel):
    plan: str
    step_s: float
    mfu: float
    memory_gib: float


class TrainingEstimate(BaseModel):
    """Everything `flopwise train` reports."""

    model: str
    accelerator: str
    cluster: str
    gpus: int
    global_batch: int
    seq_len: int
    precision: str
    tokens: float
    mode: str  # "planner" or "assumed-mfu"
    flops: FlopsSummary
    plan: ParallelPlan | None
    memory: MemoryBreakdown
    step_time: StepTime | None
    tokens_per_s: float
    tokens_per_s_per_gpu: float
    tflops_per_gpu: float
    mfu: float
    hfu: float
    train_s: float
    days: float
    gpu_hours: float
    price_per_gpu_hour: float | None
    cost_usd: float | None
    plans_evaluated: int = 0
    plans_valid: int = 0
    search_s: float = 0.0
    top_plans: list[PlanSummary] = []
    # with failures, checkpoints and restarts (None with --no-failures)
    reliability: ReliabilityEstimate | None = None
    simulation: SimulationResult | None = None
    expected_days: float | None = None
    expected_gpu_hours: float | None = None
    expected_cost_usd: float | None = None
    # how far flopwise's training estimates landed from published runs on this hardware generation
    track_record: TrackRecord | None = None


def _memory_at(res: TrainingArrays, i: int, capacity: float) -> MemoryBreakdown:
    parts = dict(
        weights_bytes=float(res.weights_bytes[i]), gradients_bytes=float(res.gradients_bytes[i]),
        optimizer_bytes=float(res.optimizer_bytes[i]), activations_bytes=float(res.activations_bytes[i]),
        buffers_bytes=float(res.buffers_bytes[i]), framework_bytes=float(res.framework_bytes[i]),
    )
    total = sum(parts.values())
    return MemoryBreakdown(**parts, total_bytes=total, capacity_bytes=capacity, fits=total <= capacity)


def _step_at(res: TrainingArrays, i: int) -> StepTime:
    return StepTime(**{k: float(getattr(res, k)[i]) for k in StepTime.model_fields})


def _flops_summary(job: TrainingJob, tokens: float) -> FlopsSummary:
    fl = training_flops(job.model, tokens, job.seq_len)
    per = training_flops_per_token(job.model, job.seq_len)
    return FlopsSummary(
        dense_flops=fl.dense_flops, lm_head_flops=fl.lm_head_flops, attention_flops=fl.attention_flops,
        flops_total=fl.total_flops, flops_per_token=per.total_flops,
    )


def _finish(job, n_gpus, tokens, price, tokens_per_s, hw_flops_per_token, **kw) -> TrainingEstimate:
    acc = job.cluster.accelerator
    peak = job.peak_flops_per_s
    flops = _flops_summary(job, tokens)
    per_gpu = tokens_per_s / n_gpus
    train_s = tokens / tokens_per_s
    gpu_hours = train_s * n_gpus / 3600
    return TrainingEstimate(
        model=job.model.name, accelerator=acc.id, cluster=job.cluster.name, gpus=n_gpus,
        global_batch=job.global_batch, seq_len=job.seq_len, precision=job.precision, tokens=tokens, flops=flops,
        tokens_per_s=tokens_per_s, tokens_per_s_per_gpu=per_gpu,
        tflops_per_gpu=per_gpu * flops.flops_per_token / 1e12,
        mfu=per_gpu * flops.flops_per_token / peak, hfu=per_gpu * hw_flops_per_token / peak,
        train_s=train_s, days=train_s / 86400, gpu_hours=gpu_hours, price_per_gpu_hour=price,
        cost_usd=gpu_hours * price if price is not None else None, **kw,
    )


def estimate_from_search(result: SearchResult, rank: int, tokens: float, price: float | None, top: int = 5) -> TrainingEstimate:
    """The TrainingEstimate of the plan ranked `rank` (0 = best) in a search result."""
    job, res, n = result.job, result.results, result.n_gpus
    i = int(result.ranked[rank])
    tokens_per_s = job.global_batch * job.seq_len / float(res.step_s[i])
    hw = float(hardware_flops_per_token(job, int(result.arrays.recompute[i]), float(res.recompute_fraction[i])))
    tops = []
    for k in range(min(top, len(result.ranked))):
        j = int(result.ranked[k])
        st = float(res.step_s[j])
        tops.append(PlanSummary(
            plan=result.plan(k).label(), step_s=st, mfu=mfu_of(job.global_batch * job.seq_len / st / n, job),
            memory_gib=float(res.memory_bytes[j]) / 2**30,
        ))
    return _finish(
        job, n, tokens, price, tokens_per_s, hw, mode="planner", plan=result.plan(rank),
        memory=_memory_at(res, i, job.cluster.accelerator.memory_bytes), step_time=_step_at(res, i),
        plans_evaluated=result.plans_evaluated, plans_valid=result.plans_valid, search_s=result.search_s,
        top_plans=tops,
    )


def plan_training(
    job: TrainingJob,
    n_gpus: int,
    tokens: float,
    price: float | None = None,
    fixed: dict | None = None,
    space: SearchSpace | None = None,
    top: int = 5,
) -> TrainingEstimate:
    """Search (or evaluate the `fixed` plan fields) and return the best plan's estimate."""
    if space is None:
        space = SearchSpace.pinned(fixed) if fixed else SearchSpace()
    result = search(job, n_gpus, space)
    if not len(result.ranked):
        raise InfeasiblePlan(result.why_none())
    return estimate_from_search(result, 0, tokens, price, top=top)


# An expected wall time with failures beyond this (a million years) means the failures outpace progress.
MAX_RUN_WITH_FAILURES_S = 1e6 * 365.25 * 86400


def add_reliability(
    est: TrainingEstimate,
    job: TrainingJob,
    failure_model: FailureModel,
    async_checkpoint: bool = False,
    max_job_hours: float | None = None,
    simulate_runs: int = 0,
    progress: bool = False,
    **overrides,
) -> TrainingEstimate:
    """The estimate with interruptions, checkpointing, restarts (and resubmissions) priced in."""
    if not math.isfinite(est.train_s):
        raise InfeasiblePlan(f"this run would never finish on {est.gpus} GPUs (MFU {est.mfu:.3g}); give a realistic "
                             "MFU, more GPUs or fewer tokens")
    step = est.step_time.step_s if est.step_time is not None else None
    inp = ReliabilityInputs(
        n_gpus=est.gpus, gpus_per_node=job.cluster.gpus_per_node, ideal_train_s=est.train_s,
        checkpoint_bytes=checkpoint_bytes(job.model.params_total), failure_model=failure_model,
        async_checkpoint=async_checkpoint, max_job_hours=max_job_hours, step_s=step, **overrides,
    )
    rel = estimate_reliability(inp)
    if not rel.expected_wall_s < MAX_RUN_WITH_FAILURES_S:
        raise InfeasiblePlan(
            f"at {rel.failure_rate_per_gpu_hour:.3g} failures per GPU-hour the job is interrupted every "
            f"{rel.mtbf_job_s:.3g} s on {est.gpus} GPUs, against {rel.restart_s_per_interruption:.3g} s to restart: "
            "it would never finish; check the failure model, or use fewer GPUs")
    sim = simulate(inp, simulate_runs, progress=progress) if simulate_runs > 0 else None
    cost = rel.expected_gpu_hours * est.price_per_gpu_hour if est.price_per_gpu_hour is not None else None
    return est.model_copy(update=dict(
        reliability=rel, simulation=sim, expected_days=rel.expected_wall_s / 86400,
        expected_gpu_hours=rel.expected_gpu_hours, expected_cost_usd=cost,
    ))


def gpu_counts_up_to(max_gpus: int, gpus_per_node: int) -> list[int]:
    """Cluster sizes worth trying below a limit: 1, 2, 4, ... within a node, then whole nodes doubling."""
    counts = {max_gpus}
    n = 1
    while n < max_gpus:
        if n <= gpus_per_node or n % gpus_per_node == 0:
            counts.add(n)
        n *= 2
    return sorted(counts)


def plan_training_cheapest(
    job: TrainingJob, max_gpus: int, tokens: float, price: float | None = None, fixed: dict | None = None, top: int = 5,
    max_days: float | None = None,
) -> TrainingEstimate:
    """The plan with the lowest GPU-hours per token over cluster sizes up to `max_gpus`.

    Fewer GPUs usually cost less per token (less communication, smaller bubbles) but take longer;
    the estimate returned is the cheapest, with its own GPU count.
    """
    best: tuple[float, SearchResult] | None = None
    reasons = []
    space = SearchSpace.pinned(fixed) if fixed else SearchSpace()
    for n in gpu_counts_up_to(max_gpus, job.cluster.gpus_per_node):
        result = search(job, n, space)
        if not len(result.ranked):
            reasons.append(result.why_none())
            continue
        step = float(result.results.step_s[result.ranked[0]])
        days = tokens / (job.global_batch * job.seq_len / step) / 86400
        if max_days is not None and days > max_days:
            reasons.append(f"on {n} GPUs the run takes {days:,.1f} days, more than --max-days {max_days:g}")
            continue
        gpu_s_per_step = step * n
        if best is None or gpu_s_per_step < best[0]:
            best = (gpu_s_per_step, result)
    if best is None:
        raise InfeasiblePlan(reasons[-1])
    result = best[1]
    return estimate_from_search(result, 0, tokens, price, top=top)


def assumed_mfu_training(job: TrainingJob, n_gpus: int, tokens: float, mfu: float, price: float | None = None) -> TrainingEstimate:
    """What-if arithmetic: time from an assumed MFU; memory if model states were sharded over all GPUs."""
    if not 0 < mfu <= 1:
        raise FlopwiseError(f"--mfu must be in (0, 1], got {mfu:g}")
    acc = job.cluster.accelerator
    per_tok = training_flops_per_token(job.model, job.seq_len).total_flops
    tokens_per_s = mfu * job.peak_flops_per_s * n_gpus / per_tok
    states = model_state_bytes(job.model.params_total, job.precision, job.optimizer)
    from flopwise.estimate.memory import activation_bytes_per_layer
    from flopwise.estimate.efficiency import FRAMEWORK_FIXED_BYTES

    act = job.model.n_layers * activation_bytes_per_layer(job.model, job.seq_len, 1, recompute="selective")
    parts = dict(
        weights_bytes=states.weights_bytes / n_gpus, gradients_bytes=states.gradients_bytes / n_gpus,
        optimizer_bytes=states.optimizer_bytes / n_gpus, activations_bytes=act, buffers_bytes=0.0,
        framework_bytes=FRAMEWORK_FIXED_BYTES,
    )
    total = sum(parts.values())
    memory = MemoryBreakdown(**parts, total_bytes=total, capacity_bytes=acc.memory_bytes, fits=total <= acc.memory_bytes)
    return _finish(job, n_gpus, tokens, price, tokens_per_s, per_tok, mode="assumed-mfu", plan=None,
                   memory=memory, step_time=None)


def mfu_of(per_gpu_tokens_per_s: np.ndarray | float, job: TrainingJob) -> np.ndarray | float:
    """Model FLOPs utilisation of a per-GPU token rate."""
    return per_gpu_tokens_per_s * training_flops_per_token(job.model, job.seq_len).total_flops / job.peak_flops_per_s


def make_job(model: ModelSpec, cluster: Cluster, gpus: int, global_batch: int | None = None,
             seq_len: int | None = None, precision: str = "bf16", optimizer: str = "adam",
             tokens: float | None = None) -> TrainingJob:
    """A TrainingJob with defaults filled in and every input checked (one-line FlopwiseError)."""
    from flopwise.estimate.memory import optimizer_state_bytes

    if gpus <= 0:
        raise FlopwiseError(f"--gpus must be a positive integer, got {gpus}")
    if seq_len is not None and seq_len <= 0:
        raise FlopwiseError(f"--seq-len must be a positive integer, got {seq_len}")
    s = seq_len or default_seq_len(model)
    if global_batch is not None and global_batch <= 0:
        raise FlopwiseError(f"--global-batch must be a positive integer, got {global_batch}")
    b = global_batch or default_global_batch(s, gpus)
    if global_batch and tokens and b * s > tokens:
        raise FlopwiseError(f"--global-batch {b} at seq {s} is {b * s:.3g} tokens per step, more than the whole run "
                            f"({tokens:.3g} tokens); lower --global-batch or raise --tokens")
    if precision not in {"bf16", "fp16", "fp8", "fp32"}:
        raise FlopwiseError(f"unknown precision '{precision}'; accepted: bf16, fp16, fp8, fp32")
    cluster.accelerator.peak(matmul_rate_key(precision))  # clear error if unsupported
    optimizer_state_bytes(optimizer)
    return TrainingJob(model, cluster, b, s, precision, optimizer, tokens)


def run_training(
    job: TrainingJob, gpus: int, tokens: float, price: float | None = None, *, mfu: float | None = None,
    plan: str | None = None, objective: str = "time", max_days: float | None = None, top: int = 5,
    failure_model: FailureModel | None = None, async_checkpoint: bool = False,
    max_job_hours: float | None = None, simulate_runs: int = 0, progress: bool = False,
) -> tuple[TrainingEstimate, dict | None]:
    """Everything `flopwise train` does between parsing and printing (shared by the CLI and the web API).

    Returns the estimate and the fixed plan fields it was asked for (None when searched freely).
    `failure_model=None` leaves failures out.
    """
    from flopwise.plan.parallel import parse_plan_spec

    fixed = None
    if max_days is not None and (objective != "cost" or mfu is not None):
        raise FlopwiseError("--max-days bounds the cheapest plan: give it with --objective cost (and no --mfu)")
    if mfu is not None:
        est = assumed_mfu_training(job, gpus, tokens, mfu, price)
    else:
        fixed = parse_plan_spec(plan) if plan else None
        if fixed and "precision" in fixed and fixed["precision"] != job.precision:
            raise FlopwiseError("give the precision with --precision, not inside --plan")
        if objective == "time":
            est = plan_training(job, gpus, tokens, price, fixed=fixed, top=top)
        elif objective == "cost":
            if max_days is not None and not max_days > 0:
                raise FlopwiseError(f"--max-days must be a positive number, got {max_days:g}")
            est = plan_training_cheapest(job, gpus, tokens, price, fixed=fixed, top=top, max_days=max_days)
        else:
            raise FlopwiseError(f"--objective must be 'time' or 'cost', got '{objective}'")
    if est.mode == "planner":
        est = est.model_copy(update={"track_record": track_record_for(job.cluster.accelerator.generation,
                                                                      job.model.is_moe)})
    if simulate_runs < 0:
        raise FlopwiseError(f"--simulate must be a positive number of runs, got {simulate_runs}")
    if failure_model is not None:
        if max_job_hours is not None and not max_job_hours > 0:
            raise FlopwiseError(f"--max-job-hours must be a positive number, got {max_job_hours:g}")
        est = add_reliability(est, job, failure_model, async_checkpoint, max_job_hours, simulate_runs, progress=progress)
    elif simulate_runs:
        raise FlopwiseError("--simulate needs the failure model; drop --no-failures")
    return est, fixed
