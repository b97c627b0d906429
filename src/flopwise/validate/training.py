"""Score the training estimator on published runs.

A row that gives its plan is evaluated with that plan (unknown fields, e.g. micro-batch, are searched);
otherwise the best plan found is used. The compared quantity is the first the row measured, in this
order: TFLOP/s per GPU (in the row's FLOPs convention), MFU, HFU, tokens/s per GPU, step time,
GPU-hours for the stated tokens.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from flopwise.catalog.accelerators import get_accelerator
from flopwise.catalog.runs import TrainingRun
from flopwise.catalog.systems import default_cluster
from flopwise.errors import FlopwiseError
from flopwise.estimate.flops import attention_fwd_flops_per_token, dense_matmul_params, lm_head_params
from flopwise.estimate.training import TrainingJob
from flopwise.plan.search import SearchResult, SearchSpace, search
from flopwise.plan.training import default_global_batch, default_seq_len
from flopwise.spec.model import ModelSpec
from flopwise.spec.precision import matmul_rate_key
from flopwise.validate.architecture import model_from_row
from flopwise.validate.scoring import RowScore

# Assumptions for fields a row leaves blank (documented in docs/accuracy.md).
DEFAULT_GPUS = 2048  # a large pre-training cluster when the row does not say how many GPUs


def convention_flops_per_token(model: ModelSpec, seq_len: int, recompute: str, convention: str,
                               with_attention: bool | str = True) -> float:
    """FLOPs per token as published sources count them: full s×s attention (PaLM, Megatron eq. 3,
    torchtitan, llm-foundry), half of it (`"causal"`: MaxText), or none when the source's MFU is 6N only;
    `hardware` adds the recomputed forward (Megatron eq. 3)."""
    dense = 2.0 * dense_matmul_params(model)
    attn = (attention_fwd_flops_per_token(model, seq_len, causal=with_attention == "causal")
            if with_attention else 0.0)
    head = 2.0 * lm_head_params(model)
    total = 3.0 * (dense + attn + head)
    if convention == "hardware":
        if recompute == "full":
            total += dense + attn
        elif recompute == "selective":
            total += attn
    return total


def counts_attention_flops(row: TrainingRun) -> bool:
    """Whether the row's published TFLOP/s / MFU count attention FLOPs. The schema puts the definition in
    the notes; "6N" alone (not "6N + attention"), or attention named as excluded, means no."""
    text = (row.notes or "").lower()
    if re.search(r"exclud\w* attention|without attention|attention (?:flops )?(?:are )?(?:not counted|excluded)", text):
        return False
    # "6N", "6*N", or 6 times a parameter count written out ("6*65.2e9*380/312e12")
    six_n = re.search(r"(?<![\w.])6\s*[·*x×]?\s*n(?![\w])|(?<![\w.])6\s*[·*x×]\s*\d[\d.]*e\d+", text)
    return not (six_n and not re.search(r"6\s*[·*x×]?\s*n\s*\+\s*(?:[a-z-]+\s+){0,2}(?:12|attention|attn)", text))


CAUSAL_COUNT = re.compile(r"halved for causality|causal /2|causal attention (?:flops )?(?:counted )?(?:as )?half|"
                          r"attention (?:flops )?(?:counted )?(?:as )?causal|half of the attention")


def attention_counting(row: TrainingRun) -> bool | str:
    """How the row's published FLOPs count attention: True (the full s×s square), "causal" (half of it,
    as MaxText and some later Megatron versions do) or False (6N only)."""
    if not counts_attention_flops(row):
        return False
    return "causal" if CAUSAL_COUNT.search((row.notes or "").lower()) else True


TP_OVERLAP_WORDS = ("async tp", "asynctp", "async tensor parallel", "tp-comm-overlap", "tp comm overlap",
                    "tp communication overlap", "tp_comm_overlap")


def overlaps_tp_comm(row: TrainingRun) -> bool:
    """Whether the notes say tensor-parallel communication was overlapped with the GEMMs (off by default
    in Megatron-LM and torchtitan, so only when stated)."""
    text = (row.notes or "").lower()
    return any(w in text for w in TP_OVERLAP_WORDS)


EP_OVERLAP_WORDS = ("dualpipe", "a2a overlap", "a2a_overlap", "all-to-all overlap", "overlap-moe-expert-parallel-comm",
                    "ep overlap", "expert-parallel overlap", "ep communication overlap")


def overlaps_ep_comm(row: TrainingRun) -> bool:
    """Whether the notes say the expert all-to-all was overlapped with compute (DualPipe, Megatron's
    --overlap-moe-expert-parallel-comm / moe_a2a_overlap), off by default in the stacks."""
    text = (row.notes or "").lower()
    return any(w in text for w in EP_OVERLAP_WORDS)


FLASH_WORDS = ("flash", "xformers", "memory-efficient attention", "memory efficient attention", "sdpa")


FA3_PATTERN = re.compile(r"flash[- ]?attention[- ]?3|\bfa-?3\b|cudnn (?:fused )?(?:flash )?attention|"
                         r"attention[-_ ]backend[ =]+fused")


def uses_fa3_class_attention(row: TrainingRun) -> bool:
    """Whether the notes name a FlashAttention-3 / cuDNN fused attention kernel (else FA2 class)."""
    return bool(FA3_PATTERN.search(f"{row.notes} {row.source}".lower()))


def uses_flash_attention(row: TrainingRun) -> bool:
    """Whether the run used a fused (flash-style) attention kernel.

    An explicit `flash_attention` column wins; else the notes naming FlashAttention, xformers or SDPA;
    else the source's year: FlashAttention appeared in mid-2022 and reached the major training stacks in
    2023, so runs published up to 2022 are taken to materialise the attention scores.
    """
    explicit = getattr(row, "flash_attention", None)
    if explicit is not None:
        return bool(explicit)
    text = f"{row.notes} {row.source}".lower()
    if any(w in text for w in FLASH_WORDS):
        return True
    return not _published_by(row, 2022)


def _years(text: str) -> list[int]:
    return [int(y) for y in re.findall(r"\b(20[0-3][0-9])\b", text or "")]


def _published_by(row: TrainingRun, year: int) -> bool:
    """Whether the run dates from `year` or before: the earliest year the row's source names; for a whole
    pre-training run (GPU-hours for its tokens) whose source names none, the year the model was published,
    from the catalog's source for the model or its series (a model is pre-trained before it is published)."""
    years = _years(row.source)
    if not years and row.measured_gpu_hours is not None and row.training_tokens:
        from flopwise.catalog.models import series_source

        years = _years(series_source(row.model or "") or "")
    return bool(years) and min(years) <= year


POWER_LIMIT = re.compile(r"(\d{3,4})\s*(?:-|–|to)\s*(\d{3,4})\s*w\b|(?:power[- ]?(?:cap|limit)\w*|tdp)\s*(?:of|at|to|=|:)?\s*(\d{3,4})\s*w\b")


def power_limit_w(row: TrainingRun, acc) -> float | None:
    """The power limit the notes give the accelerators ("TDP 350-400W": the mean of a range), when it is
    below the part's rated power; None otherwise."""
    m = POWER_LIMIT.search((row.notes or "").lower())
    if not m or not acc.tdp_w:
        return None
    watts = (float(m.group(1)) + float(m.group(2))) / 2 if m.group(1) else float(m.group(3))
    return watts if watts < acc.tdp_w else None


def _pinned(row: TrainingRun) -> dict:
    fixed: dict = {"flash_attention": uses_flash_attention(row)}
    if fixed["flash_attention"] and uses_fa3_class_attention(row):
        fixed["flash_version"] = 3
    if row.sequence_parallel is None and _published_by(row, 2021):
        fixed["sequence_parallel"] = False  # sequence parallelism appeared in 2022 (Korthikanti et al.)
    if row.cp is None and _published_by(row, 2023):
        fixed["cp"] = 1  # context parallelism reached the training stacks in 2024 (Megatron-Core, Llama 3)
    if overlaps_tp_comm(row):
        fixed["tp_overlap"] = True
    if overlaps_ep_comm(row):
        fixed["ep_overlap"] = True
    for key in ("tp", "pp", "cp", "dp", "ep", "vpp"):
        v = getattr(row, key)
        if v is not None:
            fixed[key] = v
    if row.micro_batch is not None:
        fixed["micro_batch"] = row.micro_batch
    if row.sharding is not None:
        fixed["sharding"] = row.sharding
    if row.recompute is not None:
        fixed["recompute"] = row.recompute
    if row.sequence_parallel is not None:
        fixed["sequence_parallel"] = row.sequence_parallel
    return fixed


def _ran_so_it_fit(result: SearchResult) -> tuple[SearchResult, str] | None:
    """A measured run fitted in its GPUs' memory. When the published plan is rejected only because
    flopwise's memory model puts it above capacity, evaluate it anyway (the candidate closest to fitting)
    and say by how much the memory model disagrees."""
    best = result.closest_to_fitting()
    if best is None:
        return None
    res = result.results
    cap = result.job.cluster.accelerator.memory_bytes / 2**30
    note = (f"flopwise's memory model puts the published plan at {res.memory_bytes[best] / 2**30:.0f} GiB per GPU "
            f"(> {cap:.0f}); evaluated anyway, since it ran")
    return dataclasses.replace(result, ranked=np.array([best])), note


def _nearest_divisible_batch(job: TrainingJob, n: int, fixed: dict) -> SearchResult | None:
    """The search at the batch closest to the job's that some valid layout divides, or None.

    Tried: multiples of each divisor q of the GPU count (largest q first, which keeps the data-parallel
    degree high), rounded to the nearest multiple of q; the first batch with a valid plan wins.
    """
    b = job.global_batch
    tried = set()
    for q in sorted((q for q in range(1, n + 1) if n % q == 0), reverse=True)[:12]:
        cand = max(q, round(b / q) * q)
        if cand in tried or cand == b or abs(cand - b) > 0.25 * b:
            continue
        tried.add(cand)
        res = search(dataclasses.replace(job, global_batch=cand), n, SearchSpace.pinned(fixed))
        if len(res.ranked):
            return res
    return None


STEP_PARTS = ("compute_s", "attention_s", "elementwise_s", "recompute_s", "tp_comm_s", "cp_comm_s", "ep_comm_s",
              "moe_host_s", "pp_comm_s", "bubble_s", "dp_comm_s", "fsdp_comm_s", "optimizer_s")
MEMORY_PARTS = ("weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "buffers_bytes",
                "framework_bytes")


def _breakdown(res, i: int) -> dict[str, dict[str, float]]:
    """Step time (s) and memory per GPU (GiB) of plan `i`, by component (zero parts left out)."""
    step = {k.removesuffix("_s"): float(getattr(res, k)[i]) for k in STEP_PARTS if float(getattr(res, k)[i]) > 0}
    step["total"] = float(res.step_s[i])
    mem = {k.removesuffix("_bytes"): float(getattr(res, k)[i]) / 2**30 for k in MEMORY_PARTS}
    mem["total"] = float(res.memory_bytes[i]) / 2**30
    return {"step_s": step, "memory_gib": mem}


def score_training_row(row: TrainingRun, explain: bool = False) -> RowScore:
    """Predict the row's measured quantity; rows that cannot be evaluated get error None and a note.
    With `explain`, the score carries the predicted plan's step-time and memory breakdown."""
    if row.invalid:
        return RowScore.skipped(row.id, row.invalid)
    try:
        model, notes = model_from_row(row, row.seq_len or 2048)
        if not row.accelerator:
            raise FlopwiseError("accelerator not given")
        acc = get_accelerator(row.accelerator)
        if (cap := power_limit_w(row, acc)) is not None:
            # a power-capped fleet: the rated power stays, the sustained clock follows the cap
            acc = acc.model_copy(update={"rated_power_w": acc.rated_power_w or acc.tdp_w, "tdp_w": cap})
            notes.append(f"power limit {cap:.0f} W of {acc.rated_power_w:.0f} W")
        if row.seq_len:
            seq = row.seq_len
        else:
            seq = default_seq_len(model)
            notes.append(f"sequence length not given: assumed {seq}")
        n = row.num_accelerators
        if n is None:
            if row.tp and row.pp and row.dp:
                n = row.tp * row.pp * row.dp * (row.cp or 1)
            else:
                # a large cluster, rounded to a whole number of the model-parallel groups the row gives
                group = (row.tp or 1) * (row.pp or 1) * (row.cp or 1) * (row.dp or 1)
                n = max(1, round(DEFAULT_GPUS / group)) * group
                notes.append(f"GPU count not given: assumed {n}")
        batch = row.global_batch_seqs
        if batch is None:
            batch = default_global_batch(seq, n)
            notes.append(f"global batch not given: assumed {batch} seqs")
        precision = row.precision or "bf16"
        job = TrainingJob(model, default_cluster(acc), batch, seq, precision)
        fixed = _pinned(row)
        result = search(job, n, SearchSpace.pinned(fixed))
        if not len(result.ranked) and (near := _nearest_divisible_batch(job, n, fixed)) is not None:
            # published batches are often rounded ("2M tokens"): take the nearest one the GPUs divide
            notes.append(f"global batch {batch} does not divide over {n} GPUs: evaluated at {near.job.global_batch}")
            result = near
            job = near.job
            batch = job.global_batch
        if not len(result.ranked) and (ran := _ran_so_it_fit(result)) is not None:
            result, note = ran
            notes.append(note)
        if not len(result.ranked):
            # the published plan does not divide under our model: say so, and fall back to a search
            why = result.why_none()
            result = search(job, n, SearchSpace())
            if not len(result.ranked):
                raise FlopwiseError(why)
            notes.append(f"published plan rejected ({why}); best searched plan used")
        i = int(result.ranked[0])
        plan = result.plan(0)
        step = float(result.results.step_s[i])
        tok_s_gpu = batch * seq / step / n
        peak = acc.peak(matmul_rate_key(precision))  # fp32 runs: TF32 tensor cores, as the job itself
        conv = row.flops_convention or "model"
        attn = attention_counting(row)
        uses_flops = any(v is not None for v in (row.measured_tflops_per_gpu, row.measured_mfu, row.measured_hfu))
        if uses_flops and not attn:
            notes.append("the source's FLOPs leave attention out (6N)")
        elif uses_flops and attn == "causal":
            notes.append("the source's FLOPs count causal attention (half the square)")
        if row.measured_tflops_per_gpu is not None:
            pred = tok_s_gpu * convention_flops_per_token(model, seq, plan.recompute, conv, attn) / 1e12
            metric, meas = f"tflops_per_gpu ({conv})", row.measured_tflops_per_gpu
        elif row.measured_mfu is not None:
            pred = tok_s_gpu * convention_flops_per_token(model, seq, plan.recompute, "model", attn) / peak
            metric, meas = "mfu", row.measured_mfu
        elif row.measured_hfu is not None:
            pred = tok_s_gpu * convention_flops_per_token(model, seq, plan.recompute, "hardware", attn) / peak
            metric, meas = "hfu", row.measured_hfu
        elif row.measured_tokens_per_s_per_gpu is not None:
            pred, metric, meas = tok_s_gpu, "tokens_per_s_per_gpu", row.measured_tokens_per_s_per_gpu
        elif row.measured_step_time_s is not None:
            pred, metric, meas = step, "step_time_s", row.measured_step_time_s
        elif row.measured_gpu_hours is not None and row.training_tokens:
            # a whole run: interruptions, checkpoints and restarts are part of its GPU-hours
            from flopwise.catalog.failures import get_failure_model
            from flopwise.estimate.reliability import ReliabilityInputs, checkpoint_bytes, estimate_reliability

            ideal_s = row.training_tokens / (tok_s_gpu * n)
            rel = estimate_reliability(ReliabilityInputs(
                n_gpus=n, gpus_per_node=job.cluster.gpus_per_node, ideal_train_s=ideal_s,
                checkpoint_bytes=checkpoint_bytes(model.params_total), failure_model=get_failure_model(), step_s=step,
            ))
            pred = rel.expected_gpu_hours
            metric, meas = "gpu_hours", row.measured_gpu_hours
            notes.append(f"goodput {rel.goodput:.1%}")
        else:
            raise FlopwiseError("no measured quantity")
        return RowScore(id=row.id, metric=metric, predicted=pred, measured=meas, error=pred / meas - 1,
                        plan=plan.label(), note="; ".join(notes),
                        breakdown=_breakdown(result.results, i) if explain else None)
    except FlopwiseError as exc:
        return RowScore.skipped(row.id, str(exc))
    except Exception as exc:  # one row the estimator cannot handle must not sink the whole report
        return RowScore.skipped(row.id, f"could not be evaluated ({type(exc).__name__}: {exc})")
