"""Score the serving estimator on published inference benchmarks (schema: shared/validation/README.md).

Each row is rebuilt from its own columns — architecture, accelerator, GPU count and split, precisions,
lengths, batch, scenario — and predicted with the same physics and the same efficiencies as every
other row. The compared quantity is the first the row measured, in this order: output tokens/s
(per GPU or per system, as the row's `per` says), time to first token, time per output token,
end-to-end latency.

Scenarios:
- static-batch / min-latency: the batch is prefilled at once, then decoded to completion
  (TensorRT-LLM gptSessionBenchmark); throughput = batch·output_len / total time. A first-token latency
  is the prefill of the batch (batch 1 with one output token in the public tables).
- offline: continuous batching with every request queued: steady state at the row's batch (or the
  largest that fits in the KV cache, at most MAX_BATCH_PER_REPLICA).
- server: continuous batching at the offered Poisson `request_rate` (Little's law).

Assumptions for blank fields are written into each row's note.
"""

from __future__ import annotations

import numpy as np

from flopwise.catalog.accelerators import get_accelerator
from flopwise.catalog.runs import InferenceRun
from flopwise.catalog.systems import default_cluster
from flopwise.errors import FlopwiseError
from flopwise.estimate import serving_efficiency as se
from flopwise.estimate.serving import (
    ReplicaPhysics,
    ServingEstimate,
    estimate_continuous,
    estimate_static_batch,
    normalise_precision,
    solve_concurrency,
)
from flopwise.spec.model import ModelSpec
from flopwise.validate.architecture import model_from_row
from flopwise.validate.scoring import RowScore, ValidationReport, summarize

def model_from_inference_row(row: InferenceRun) -> tuple[ModelSpec, list[str]]:
    """A ModelSpec from the row's architecture columns; returns the notes on what was assumed."""
    seq = max(2048, (row.input_len or 0) + (row.output_len or 0))
    spec, notes = model_from_row(row, seq)
    text = (row.notes or "").lower()
    if "mla" in text or "kv_lora" in text or "latent" in text:
        notes.append("MLA compressed KV not in the schema: KV modelled as full multi-head (overestimate)")
    return spec, notes


def _kv_precision(row: InferenceRun, weights: str, engine: se.EngineTraits, notes: list[str]) -> str:
    if row.kv_precision:
        return normalise_precision(row.kv_precision)
    # the engine's FP8 recipe (see EngineTraits.fp8_quantises_kv), else the activation dtype
    kv = "fp8" if (weights == "fp8" and engine.fp8_quantises_kv) else ("bf16" if weights == "bf16" else "fp16")
    notes.append(f"KV precision not given: assumed {kv}")
    return kv


def _layouts(row: InferenceRun, n: int, model: ModelSpec, gpn: int) -> list[tuple[int, int]]:
    """(tp, pp) candidates: the row's own split, or every power-of-two split of n within a node."""
    if row.tp is not None:
        return [(row.tp, row.pp or 1)]
    if row.pp is not None:
        return [(max(1, n // row.pp), row.pp)]
    out = []
    tp = 1
    while tp <= min(n, gpn):
        if n % tp == 0 and model.n_heads % tp == 0:
            out.append((tp, 1))
        tp *= 2
    return out or [(1, 1)]


def predict_row(row: InferenceRun) -> tuple[ServingEstimate, str, list[str]]:
    """The serving estimate for a row's setup and the metric it should be compared on."""
    model, notes = model_from_inference_row(row)
    if not row.accelerator:
        raise FlopwiseError("accelerator not given")
    acc = get_accelerator(row.accelerator)
    cluster = default_cluster(acc)
    weights = normalise_precision(row.weight_precision or "fp16")
    if not row.weight_precision:
        notes.append("weight precision not given: assumed fp16")
    engine = se.engine_traits(row.engine)
    kv = _kv_precision(row, weights, engine, notes)
    n = row.num_accelerators or ((row.tp or 1) * (row.pp or 1))
    if row.input_len is None:
        raise FlopwiseError("input length not given (dataset-driven run)")
    lin = row.input_len
    scenario = row.scenario or "static-batch"
    single_stream = row.output_len is None and (row.batch_size or 1) == 1
    lout = row.output_len or 1
    if row.output_len is None and not single_stream:
        raise FlopwiseError("output length not given")
    layouts = _layouts(row, n, model, cluster.gpus_per_node)
    if engine.name not in ("modern", "TensorRT-LLM"):
        notes.append(f"engine traits: {engine.name}")
    best: ServingEstimate | None = None
    for tp, pp in layouts:
        replicas = max(1, n // (tp * pp))
        phys = ReplicaPhysics(model, cluster, tp, pp, weights, kv, engine)
        if len(layouts) > 1 and row.batch_size and phys.max_concurrency(lin + lout) < row.batch_size:
            continue  # searching the unpublished split: only splits that hold the batch
        if scenario in ("static-batch", "min-latency"):
            batch = row.batch_size or 1
            if single_stream:
                # output length not published: single-stream rate = 1 / time per token at the prompt's context
                est = estimate_static_batch(phys, 1, lin, 2, replicas)
            else:
                est = estimate_static_batch(phys, batch, lin, lout, replicas)
        elif scenario == "offline":
            cap = phys.max_concurrency(lin + lout)
            if cap < 1:
                continue
            conc = row.batch_size or row.concurrency or min(cap, se.MAX_BATCH_PER_REPLICA * 1)
            conc = conc / replicas if row.batch_size is None and row.concurrency else conc
            est = estimate_continuous(phys, float(min(conc, cap)), lin, lout, replicas)
        elif scenario == "server" and row.request_rate is None and row.concurrency:
            # a closed loop of `concurrency` clients (vLLM/SGLang benchmark_serving --max-concurrency)
            cap = phys.max_concurrency(lin + lout)
            if cap < 1:
                continue
            est = estimate_continuous(phys, float(min(row.concurrency / replicas, cap)), lin, lout, replicas)
        elif scenario == "server":
            if row.request_rate is None:
                raise FlopwiseError("server scenario without request_rate or concurrency")
            cap = min(phys.max_concurrency(lin + lout), se.MAX_BATCH_PER_REPLICA)
            conc = solve_concurrency(phys, row.request_rate / replicas, lin, lout, cap)
            if conc is None:
                continue
            est = estimate_continuous(phys, conc, lin, lout, replicas, rate_per_s=row.request_rate / replicas)
        else:
            raise FlopwiseError(f"unknown scenario '{scenario}'")
        if best is None or est.output_tokens_per_s_per_gpu > best.output_tokens_per_s_per_gpu:
            best = est
    if best is None:
        raise FlopwiseError("no tensor/pipeline split of the GPUs fits or keeps up under the model")
    if row.tp is None and len(layouts) > 1:
        notes.append(f"split not given: best of tp in {[t for t, _ in layouts]}")
    if single_stream:
        notes.append("output length not given: single-stream rate = 1/TPOT")
    notes += best.notes
    return best, scenario, notes


def score_inference_row(row: InferenceRun) -> RowScore:
    """Predict the row's measured quantity; rows that cannot be evaluated get error None and a note."""
    if row.invalid:
        return RowScore.skipped(row.id, row.invalid)
    try:
        est, _, notes = predict_row(row)
        plan = f"tp={est.tp} pp={est.pp} x{est.replicas} {est.weights}/{est.kv} b={est.concurrency_per_replica:.0f}"
        n = row.num_accelerators or est.gpus
        if row.measured_output_tokens_per_s is not None:
            if row.output_len is None and (row.batch_size or 1) == 1:
                per_gpu = 1.0 / est.tpot_s / est.gpus * est.replicas
            else:
                per_gpu = est.output_tokens_per_s_per_gpu
            if (row.per or "gpu") == "system":
                pred, metric = per_gpu * n, "output_tok_s (system)"
            else:
                pred, metric = per_gpu, "output_tok_s (per gpu)"
            meas = row.measured_output_tokens_per_s
        elif row.measured_total_tokens_per_s is not None:
            # input + output tokens: each request of lout output tokens also brings lin prompt tokens
            lin, lout = row.input_len or 0, row.output_len or 1
            per_gpu = est.output_tokens_per_s_per_gpu * (lin + lout) / lout
            if (row.per or "gpu") == "system":
                pred, metric = per_gpu * n, "total_tok_s (system)"
            else:
                pred, metric = per_gpu, "total_tok_s (per gpu)"
            meas = row.measured_total_tokens_per_s
        elif row.measured_ttft_ms is not None:
            if "99" in (row.latency_statistic or ""):  # a tail figure: the planner's p99 under queueing
                pred, metric = est.ttft_p99_s * 1e3, "ttft_p99_ms"
            else:
                pred, metric = est.ttft_s * 1e3, "ttft_ms"
            meas = row.measured_ttft_ms
        elif row.measured_tpot_ms is not None:
            pred, metric, meas = est.tpot_s * 1e3, "tpot_ms", row.measured_tpot_ms
        elif row.measured_e2e_ms is not None:
            pred, metric, meas = est.e2e_s * 1e3, "e2e_ms", row.measured_e2e_ms
        else:
            raise FlopwiseError("no measured quantity")
        if not np.isfinite(pred) or pred <= 0:
            raise FlopwiseError("prediction is not a positive number")
        return RowScore(id=row.id, metric=metric, predicted=pred, measured=meas, error=pred / meas - 1,
                        plan=plan, note="; ".join(notes))
    except FlopwiseError as exc:
        return RowScore.skipped(row.id, str(exc))
    except Exception as exc:  # one row the estimator cannot handle must not sink the whole report
        return RowScore.skipped(row.id, f"could not be evaluated ({type(exc).__name__}: {exc})")


def is_throughput_metric(score: RowScore) -> bool:
    return score.metric.startswith(("output_tok_s", "total_tok_s"))


def split_summary(scores: list[RowScore], runs_file: str = "") -> dict[str, ValidationReport]:
    """Separate reports for throughput rows (the accuracy target) and latency rows (reported too)."""

    thr = [s for s in scores if s.error is not None and is_throughput_metric(s)]
    lat = [s for s in scores if s.error is not None and not is_throughput_metric(s)]
    out: dict[str, ValidationReport] = {}
    if thr:
        out["throughput"] = summarize("inference throughput", runs_file, thr)
    if lat:
        out["latency"] = summarize("inference latency", runs_file, lat)
    return out
