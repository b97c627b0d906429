"""How fast a job runs on each pool, relative to the accelerator its duration was measured on.

- A job with measured `speedups` (throughput per pool name or accelerator, as in Gavel's
  throughput tables): those, relative to the reference; a pool it does not list cannot run it.
- A job that names a catalog model: tokens/s from the training planner (`plan_training`) on each
  pool's accelerator at the job's GPU count, divided by tokens/s on the reference accelerator.
  A pool where no plan fits in memory gets speed 0 (the job cannot run there). Cached per
  (model, accelerator, GPUs), so a workload of a handful of models costs a few planner calls.
- Any other job: the ratio of the pools' `speed` from the cluster file (relative to the first
  pool), else of dense bf16 (fp16 on parts without bf16) peak FLOP/s — the speedup of a
  compute-bound job, an upper bound for most.

The reference accelerator is the job's `gpu_type` (a pool name or accelerator id) when the trace
says where the job ran, else the first pool's accelerator.
"""

from __future__ import annotations

from functools import cache

from flopwise.errors import FlopwiseError, InfeasiblePlan
from flopwise.fleet.cluster import ClusterSpec
from flopwise.fleet.jobs import Job

SEQ_LEN = 2048  # sequence length assumed for planner speedups
SEQS_PER_GPU = 32  # global batch = 32 sequences per GPU (64k tokens per GPU per step)

# GPU type names in the Alibaba PAI 2020 trace -> catalog accelerators (None: not in the catalog)
PAI_GPU_TYPES = {"v100": "v100-sxm2-16gb", "v100m32": "v100-sxm2-32gb", "t4": "t4", "p100": None, "misc": None}


def _peak(acc_id: str) -> float:
    from flopwise.catalog.accelerators import get_accelerator

    return get_accelerator(acc_id).peak("bf16")


@cache
def planner_tokens_per_s(model: str, acc_id: str, gpus: int) -> float:
    """Training tokens/s of `model` on `gpus` x `acc_id` from the planner; 0 if no plan fits."""
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.catalog.models import resolve_model
    from flopwise.catalog.systems import default_cluster
    from flopwise.estimate.training import TrainingJob
    from flopwise.plan.training import plan_training

    spec = resolve_model(model)
    cluster = default_cluster(get_accelerator(acc_id))
    job = TrainingJob(spec, cluster, SEQS_PER_GPU * gpus, min(SEQ_LEN, spec.max_seq_len))
    try:
        return float(plan_training(job, gpus, 1e9, top=0).tokens_per_s)
    except InfeasiblePlan:
        return 0.0


class SpeedTable:
    """Per-job speed on each pool (tuples shared between jobs of the same kind)."""

    def __init__(self, cluster: ClusterSpec):
        self.cluster = cluster
        self.accs = [p.accelerator for p in cluster.pools]
        self._ref_cache: dict[str | None, str] = {}
        self._cache: dict[tuple, tuple[float, ...]] = {}

    def reference_accelerator(self, gpu_type: str | None) -> str:
        if gpu_type in self._ref_cache:
            return self._ref_cache[gpu_type]
        acc = self.accs[0]
        if gpu_type:
            i = self.cluster.pool_index(gpu_type)
            if i is not None:
                acc = self.accs[i]
            else:
                key = gpu_type.lower()
                if key in PAI_GPU_TYPES:
                    acc = PAI_GPU_TYPES[key] or acc
                else:
                    from flopwise.catalog.accelerators import get_accelerator

                    try:
                        acc = get_accelerator(gpu_type).id
                    except FlopwiseError:
                        acc = self.accs[0]
        self._ref_cache[gpu_type] = acc
        return acc

    def speeds(self, job: Job) -> tuple[float, ...]:
        key = (job.model, job.gpu_type, job.gpus if job.model else 0,
               tuple(sorted(job.speedups.items())) if job.speedups else None)
        got = self._cache.get(key)
        if got is None:
            got = self._compute(job)
            self._cache[key] = got
        return got

    def _compute(self, job: Job) -> tuple[float, ...]:
        ref = self.reference_accelerator(job.gpu_type)
        if job.speedups:
            return self._measured(job, ref)
        if job.model:
            tps = [planner_tokens_per_s(job.model, a, job.gpus) for a in self.accs]
            base = planner_tokens_per_s(job.model, ref, job.gpus) or max(tps)
            if base > 0:
                return tuple(t / base for t in tps)
            return tuple(0.0 for _ in tps)  # no plan fits in memory anywhere: unschedulable
        pools = self.cluster.pools
        base = _peak(pools[0].accelerator)

        def eff(i: int) -> float:
            p = pools[i]
            return p.speed if p.speed is not None else _peak(p.accelerator) / base

        ref_i = next((i for i, a in enumerate(self.accs) if a == ref), None)
        ref_eff = eff(ref_i) if ref_i is not None else _peak(ref) / base
        return tuple(eff(i) / ref_eff for i in range(len(pools)))

    def _measured(self, job: Job, ref: str) -> tuple[float, ...]:
        low = {k.lower(): v for k, v in job.speedups.items()}
        vals = []
        for p in self.cluster.pools:
            v = low.get(p.name.lower(), low.get(p.accelerator.lower()))
            vals.append(v if v is not None else 0.0)
        ref_i = next((i for i, a in enumerate(self.accs) if a == ref), None)
        base = vals[ref_i] if ref_i is not None and vals[ref_i] > 0 else max(vals)
        if base <= 0:
            return tuple(0.0 for _ in vals)
        return tuple(v / base for v in vals)


def effective_gpus(cluster: ClusterSpec) -> float:
    """The cluster's GPUs in first-pool equivalents, for a job that names no model."""
    speeds = SpeedTable(cluster).speeds(Job(id="probe", submit_s=0.0, gpus=1, duration_s=1.0))
    return sum(p.gpus * v for p, v in zip(cluster.pools, speeds))
