"""Enumerate every valid parallel layout for a job, evaluate them all at once, rank them."""

from __future__ import annotations

import itertools
import math
import time
from dataclasses import dataclass

import numpy as np

from flopwise.estimate.training import REASONS, PlanArrays, TrainingArrays, TrainingJob, evaluate_arrays
from flopwise.plan.parallel import RECOMPUTE_CODE, ZERO_STAGE, ParallelPlan

ZERO_NAMES = {0: "none", 1: "distributed-optimizer", 2: "zero2", 3: "fsdp"}
DEEPSPEED_SHARDINGS = ("zero1", "zero2", "zero3")
RECOMPUTE_NAMES = {v: k for k, v in RECOMPUTE_CODE.items()}


def divisors(n: int) -> list[int]:
    """The divisors of n in increasing order (pairs up to sqrt(n): fast for batches of millions)."""
    small = [k for k in range(1, math.isqrt(n) + 1) if n % k == 0]
    return small + [n // k for k in reversed(small) if k * k != n]


@dataclass(frozen=True)
class SearchSpace:
    """Which values each degree may take; None = every valid value. Fixed fields pin a degree."""

    tp: tuple[int, ...] | None = None
    pp: tuple[int, ...] | None = None
    cp: tuple[int, ...] | None = None
    dp: tuple[int, ...] | None = None  # usually implied (GPUs / tp·pp·cp); pinned, it fixes the rest
    ep: tuple[int, ...] | None = None
    vpp: tuple[int, ...] | None = None
    mb: tuple[int, ...] | None = None
    sharding: tuple[str, ...] = ("distributed-optimizer", "zero2", "fsdp")
    recompute: tuple[str, ...] = ("none", "selective", "full", "block")
    recompute_layers: int | None = None  # block recompute: pinned layers per chunk (None = as few as fit)
    sequence_parallel: tuple[bool, ...] = (True,)
    tp_overlap: bool = False  # off by default, as in Megatron-LM and torchtitan; pin it where the stack has it
    ep_overlap: bool = False  # likewise for the expert all-to-all (DualPipe, Megatron's a2a overlap)
    flash_attention: bool = True
    flash_version: int = 2
    max_tp: int = 64
    max_mb: int = 16
    max_vpp: int = 8

    @classmethod
    def pinned(cls, fields: dict) -> "SearchSpace":
        """A space with the given ParallelPlan fields fixed (the rest searched)."""
        kw: dict = {}
        for key in ("tp", "pp", "cp", "dp", "ep", "vpp"):
            if key in fields:
                kw[key] = (fields[key],)
        if "micro_batch" in fields:
            kw["mb"] = (fields["micro_batch"],)
        if "sharding" in fields:
            kw["sharding"] = (fields["sharding"],)
        if "recompute" in fields:
            kw["recompute"] = (fields["recompute"],)
        if fields.get("recompute_layers"):
            kw["recompute_layers"] = fields["recompute_layers"]
        if "sequence_parallel" in fields:
            kw["sequence_parallel"] = (fields["sequence_parallel"],)
        if "flash_attention" in fields:
            kw["flash_attention"] = fields["flash_attention"]
        if "flash_version" in fields:
            kw["flash_version"] = int(fields["flash_version"])
        if "tp_overlap" in fields:
            kw["tp_overlap"] = bool(fields["tp_overlap"])
        if "ep_overlap" in fields:
            kw["ep_overlap"] = bool(fields["ep_overlap"])
        return cls(**kw)


def candidate_arrays(job: TrainingJob, n_gpus: int, space: SearchSpace) -> PlanArrays:
    """Cartesian product of all degree choices that can possibly be valid (cheap pre-filter)."""
    m = job.model
    L, B, s = m.n_layers, job.global_batch, job.seq_len
    tps = space.tp or tuple(t for t in divisors(m.n_heads) if t <= space.max_tp and n_gpus % t == 0)
    pps = space.pp or tuple(p for p in divisors(L) if n_gpus % p == 0)
    if space.cp:
        cps = space.cp
    else:
        cps = tuple(c for c in (1, 2, 4, 8, 16) if s % c == 0 and s // c >= 2048 and n_gpus % c == 0) or (1,)
    rows = []
    for tp, pp, cp in itertools.product(tps, pps, cps):
        if n_gpus % (tp * pp * cp):
            continue
        dp = n_gpus // (tp * pp * cp)
        if B % dp or (space.dp and dp not in space.dp):
            continue
        per_dp = B // dp
        mbs = space.mb or tuple(b for b in divisors(per_dp) if b <= space.max_mb)
        eps = space.ep or (tuple(e for e in divisors(m.n_experts) if (tp * cp * dp) % e == 0) if m.is_moe else (1,))
        vpps = space.vpp or (tuple(v for v in range(1, space.max_vpp + 1) if pp * v <= L) if pp > 1 else (1,))
        for mb, ep, vpp in itertools.product(mbs, eps, vpps):
            rows.append((tp, pp, dp, cp, ep, vpp, mb))
    if not rows:
        # nothing divides: evaluate the pinned layout itself (free degrees at 1) so that the reason it
        # cannot run is reported, rather than silently planning something else
        tp0, pp0, cp0 = (space.tp or (1,))[0], (space.pp or (1,))[0], (space.cp or (1,))[0]
        dp0 = (space.dp or (max(n_gpus // (tp0 * pp0 * cp0), 1),))[0]
        rows = [(tp0, pp0, dp0, cp0, (space.ep or (1,))[0], (space.vpp or (1,))[0], (space.mb or (1,))[0])]
    base = np.array(rows, dtype=np.int64)
    zeros = [ZERO_STAGE[z] for z in space.sharding]
    hsdp = [z == "hsdp" for z in space.sharding]
    ds = [z in DEEPSPEED_SHARDINGS for z in space.sharding]
    recs = [RECOMPUTE_CODE[r] for r in space.recompute]
    sps = list(space.sequence_parallel)
    n_base, n_z, n_r, n_s = len(base), len(zeros), len(recs), len(sps)
    total = n_base * n_z * n_r * n_s
    idx = np.arange(total)
    bi = idx // (n_z * n_r * n_s)
    zi = (idx // (n_r * n_s)) % n_z
    ri = (idx // n_s) % n_r
    si = idx % n_s
    cols = base[bi]
    tp_col = cols[:, 0]
    return PlanArrays(
        tp=tp_col, pp=cols[:, 1], dp=cols[:, 2], cp=cols[:, 3], ep=cols[:, 4], vpp=cols[:, 5], mb=cols[:, 6],
        zero=np.array(zeros, dtype=np.int64)[zi], hsdp=np.array(hsdp, dtype=bool)[zi],
        deepspeed=np.array(ds, dtype=bool)[zi],
        recompute=np.array(recs, dtype=np.int64)[ri], rec_layers=np.full(total, space.recompute_layers or 0, dtype=np.int64),
        sp=np.array(sps, dtype=bool)[si] & (tp_col > 1),
        flash=np.full(total, space.flash_attention, dtype=bool),
        fa3=np.full(total, space.flash_attention and space.flash_version == 3, dtype=bool),
        tp_overlap=np.full(total, space.tp_overlap, dtype=bool) & (tp_col > 1) & np.array(sps, dtype=bool)[si],
        ep_overlap=np.full(total, space.ep_overlap, dtype=bool) & (cols[:, 4] > 1),
    )


def _block_layers(pa: PlanArrays, i: int, res: TrainingArrays | None) -> int | None:
    if int(pa.recompute[i]) != 3:
        return None
    if res is not None and int(res.recompute_layers[i]) > 0:
        return int(res.recompute_layers[i])
    return int(pa.rec_layers[i]) or None


def plan_at(pa: PlanArrays, i: int, precision: str, res: TrainingArrays | None = None) -> ParallelPlan:
    """The ParallelPlan at index i of the candidate arrays (`res` supplies block recompute's layer count)."""
    zero = int(pa.zero[i])
    if bool(pa.hsdp[i]):
        sharding = "hsdp"
    elif bool(pa.deepspeed[i]):
        sharding = f"zero{zero}"
    else:
        sharding = ZERO_NAMES[zero]
    return ParallelPlan(
        tp=int(pa.tp[i]), pp=int(pa.pp[i]), dp=int(pa.dp[i]), cp=int(pa.cp[i]), ep=int(pa.ep[i]),
        vpp=int(pa.vpp[i]), micro_batch=int(pa.mb[i]), sharding=sharding,
        recompute=RECOMPUTE_NAMES[int(pa.recompute[i])], sequence_parallel=bool(pa.sp[i]),
        recompute_layers=_block_layers(pa, i, res), tp_overlap=bool(pa.tp_overlap[i]),
        ep_overlap=bool(pa.ep_overlap[i]),
        precision=precision, flash_attention=bool(pa.flash[i]), flash_version=3 if bool(pa.fa3[i]) else 2,
    )


@dataclass
class SearchResult:
    """Evaluated candidates, ranked (indices into `arrays`/`results` of the valid ones, best first)."""

    job: TrainingJob
    n_gpus: int
    arrays: PlanArrays
    results: TrainingArrays
    ranked: np.ndarray
    search_s: float

    @property
    def plans_evaluated(self) -> int:
        return len(self.arrays)

    @property
    def plans_valid(self) -> int:
        return int(self.results.valid.sum())

    def plan(self, rank: int = 0) -> ParallelPlan:
        return plan_at(self.arrays, int(self.ranked[rank]), self.job.precision, self.results)

    def closest_to_fitting(self) -> int | None:
        """Index of the candidate that failed only on memory and needs the least, or None."""
        res = self.results
        mem_idx = np.flatnonzero(res.reason == 9)
        return int(mem_idx[np.argmin(res.memory_bytes[mem_idx])]) if len(mem_idx) else None

    def most_common_reason(self) -> str:
        """The reason most candidates were rejected for (see REASONS)."""
        codes, counts = np.unique(self.results.reason, return_counts=True)
        return REASONS.get(int(codes[np.argmax(counts)]), "invalid")

    def why_none(self) -> str:
        """Why no plan is valid: the most common blocking reason, with the memory gap if that was it."""
        res = self.results
        best = self.closest_to_fitting()
        if best is not None:
            gib = 2**30
            cap = self.job.cluster.accelerator.memory_bytes / gib
            parts = {
                "weights+grads+optimizer": (res.weights_bytes[best] + res.gradients_bytes[best] + res.optimizer_bytes[best]) / gib,
                "activations": res.activations_bytes[best] / gib,
                "buffers+framework": (res.buffers_bytes[best] + res.framework_bytes[best]) / gib,
            }
            detail = ", ".join(f"{v:.1f} {k}" for k, v in parts.items())
            plan = plan_at(self.arrays, best, self.job.precision, self.results)
            return (f"no plan fits in memory on {self.n_gpus} x {self.job.cluster.accelerator.id}: the smallest "
                    f"({plan.label()}) needs {res.memory_bytes[best] / gib:.1f} GiB per GPU of {cap:.0f} "
                    f"({detail}); use more GPUs, a smaller micro-batch or sequence"
                    + (", or more sharding" if self.n_gpus > 1 else " (sharding needs more than one GPU)"))
        pa = self.arrays
        if np.all(self.results.reason == 1) and len(set(zip(pa.tp, pa.pp, pa.cp, pa.dp))) == 1:
            # the pinned degrees alone cannot tile the GPUs
            tp, pp, cp, dp = int(pa.tp[0]), int(pa.pp[0]), int(pa.cp[0]), int(pa.dp[0])
            if self.n_gpus % (tp * pp * cp):
                return (f"no valid plan on {self.n_gpus} GPUs: tp·pp·cp = {tp}·{pp}·{cp} = {tp * pp * cp} does not "
                        f"divide {self.n_gpus} GPUs; pick degrees whose product divides the GPU count")
            return (f"no valid plan on {self.n_gpus} GPUs: tp·pp·cp·dp = {tp}·{pp}·{cp}·{dp} = {tp * pp * cp * dp}, "
                    f"not {self.n_gpus}; leave dp out (it follows from the rest) or make the product the GPU count")
        return f"no valid plan on {self.n_gpus} GPUs: {self.most_common_reason()}"


def search(job: TrainingJob, n_gpus: int, space: SearchSpace | None = None) -> SearchResult:
    """Evaluate every candidate layout and rank the valid ones (fastest first)."""
    space = space or SearchSpace()
    t0 = time.perf_counter()
    pa = candidate_arrays(job, n_gpus, space)
    res = evaluate_arrays(job, pa, n_gpus)
    valid = np.flatnonzero(res.valid)
    ranked = valid[np.argsort(res.step_s[valid], kind="stable")]
    return SearchResult(job, n_gpus, pa, res, ranked, time.perf_counter() - t0)
