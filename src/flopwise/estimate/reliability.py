"""Reliability of a training run: interruptions, checkpoints, restarts, goodput; analytic and Monte Carlo.

The model (see docs/reliability.md for the derivation and the sources):

* Unexpected interruptions are a Poisson process with rate  lambda = rate_per_gpu_hour x n_gpus / 3600
  per second of running wall time (one failed part stops the whole synchronous job). Job MTBF M = 1/lambda.
* The run is cut into K segments of tau seconds of training, each closed by a checkpoint that blocks
  training for delta_b seconds (synchronous: the whole write; asynchronous / in-memory: only the copy
  to host memory) and becomes durable w seconds later (synchronous: w = 0). A failure throws away the
  work since the last *durable* checkpoint and costs a restart R = restart overhead + checkpoint reload.
  Failures may strike during a restart too.
* With exponential failures the expected running time is exact (a renewal argument; it reduces to
  Daly 2006's T_w = M e^{R/M} (e^{(tau+delta)/M} - 1) T_s / tau when w = 0):
      E[step] = (1 - e^{-lambda b}) e^{lambda a} / lambda
  per committed segment, with b the failure-free wall time the segment needs when the previous one
  just became durable, and a the time it needs right after a restart (R + tau + delta_b + w).
* tau is Daly's higher-order optimum (Young's first-order sqrt(2 delta M) is reported alongside);
  the expected number of interruptions is lambda x E[running time] (Wald's identity).
* Planned interruptions (optional) and resubmissions after a job-length limit each cost a final
  checkpoint plus a restart, no lost work; resubmissions also wait in the queue.

`simulate` samples the same process (exponential inter-arrival times) vectorised over runs with NumPy,
looping once per interruption, not per segment; its mean matches the analytic expectation.
All quantities are SI: seconds, bytes, bytes/s. Humans get hours and days in `report`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from flopwise.catalog.failures import FailureModel
from flopwise.errors import FlopwiseError

# ---- named, documented defaults (sources in docs/reliability.md) --------------------------------------

#: Write (and read) bandwidth to checkpoint storage per node. Llama 3 (Dubey et al. 2024, §3.3.1): Meta's
#: Tectonic sustained 2 TB/s (7 TB/s peak) for a 16,384-GPU = 2,048-node job: 2e12 / 2048 ~ 1e9 B/s.
DEFAULT_STORAGE_BW_BYTES_PER_S_PER_NODE = 1.0e9
#: Restart after an interruption, excluding the checkpoint reload (which is computed from the bytes):
#: detection, rescheduling / replacing the node, process start, NCCL init, data-loader and warm-up.
#: A flopwise choice of 10 min. Bound: Llama 3's >90% effective time with 466 interruptions in 54 days
#: leaves at most 54 x 24 x 60 x 0.10 / 466 = 16.7 min lost per interruption, rework and reload included.
DEFAULT_RESTART_OVERHEAD_S = 600.0
#: Wait in the queue per resubmission when a job-length limit applies. A flopwise assumption (1 h),
#: not a measurement; shared clusters range from minutes to days.
DEFAULT_QUEUE_WAIT_S_PER_RESUBMIT = 3600.0
#: Device-to-host copy bandwidth per GPU that bounds the blocking part of an asynchronous checkpoint.
#: PCIe Gen4 x16 is 32 GB/s per direction (Gen5: 64 GB/s); ~25 GB/s is a conservative achieved rate.
DEFAULT_HOST_COPY_BW_BYTES_PER_S = 25e9
#: In-memory checkpointing (Gemini, Wang et al. SOSP 2023): each node copies its shard to a peer node's
#: CPU memory over the network and reloads from there. One 400 Gb/s NIC's worth per node = 50 GB/s
#: (Llama 3's cluster: 400 Gbps per GPU; flopwise assumes only one NIC's worth is spent on checkpoints).
DEFAULT_PEER_BW_BYTES_PER_S_PER_NODE = 50e9
#: Mixed-precision Adam: fp32 master weights + two fp32 moments = 12 bytes per parameter; bf16 weights 2.
DEFAULT_OPTIMIZER_BYTES_PER_PARAM = 12.0
DEFAULT_WEIGHT_BYTES_PER_PARAM = 2.0
#: Never checkpoint more often than this (seconds of training between checkpoints).
MIN_CHECKPOINT_INTERVAL_S = 1.0
#: The simulator refuses jobs expected to see more interruptions per run than this (they never finish).
MAX_SIMULATED_INTERRUPTIONS_PER_RUN = 1_000_000
#: Runs at or above which `simulate(progress=True)` shows a progress bar.
PROGRESS_MIN_RUNS = 2_000

_SECONDS_PER_HOUR = 3600.0
_SECONDS_PER_DAY = 86400.0


def checkpoint_bytes(
    params_total: float,
    optimizer_bytes_per_param: float = DEFAULT_OPTIMIZER_BYTES_PER_PARAM,
    weight_bytes: float = DEFAULT_WEIGHT_BYTES_PER_PARAM,
) -> float:
    """Bytes of one full training checkpoint: weights + optimizer states (summed over all shards).

    Default 2 + 12 = 14 bytes per parameter (bf16 weights, fp32 master copy and Adam moments); gradients
    are not saved. A 405B model: 5.67e12 bytes.
    """
    if params_total < 0 or optimizer_bytes_per_param < 0 or weight_bytes < 0:
        raise FlopwiseError("checkpoint size needs non-negative parameters and bytes per parameter")
    return float(params_total) * (float(optimizer_bytes_per_param) + float(weight_bytes))


def young_interval_s(checkpoint_s: float, mtbf_s: float) -> float:
    """Young 1974: the first-order optimum compute time between checkpoints, sqrt(2 delta M)."""
    return math.sqrt(2.0 * checkpoint_s * mtbf_s)


def daly_interval_s(checkpoint_s: float, mtbf_s: float) -> float:
    """Daly 2006 (FGCS 22:303, eq. 37): sqrt(2dM)[1 + sqrt(d/2M)/3 + (d/2M)/9] - d if d < 2M, else M."""
    d, m = checkpoint_s, mtbf_s
    if math.isinf(m):
        return math.inf
    if d >= 2.0 * m:
        return m
    x = d / (2.0 * m)
    return math.sqrt(2.0 * d * m) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - d


class ReliabilityInputs(BaseModel):
    """What the reliability estimate needs: the job's size and length, its checkpoints, its failure model."""

    model_config = ConfigDict(frozen=True)

    n_gpus: int = Field(gt=0)
    gpus_per_node: int = Field(default=8, gt=0)
    ideal_train_s: float = Field(gt=0, description="failure-free wall time of the training itself")
    checkpoint_bytes: float = Field(ge=0, description="one full checkpoint, all shards (see checkpoint_bytes())")
    failure_model: FailureModel
    storage_bw_bytes_per_s_per_node: float = Field(default=DEFAULT_STORAGE_BW_BYTES_PER_S_PER_NODE, gt=0)
    storage_bw_bytes_per_s_total: float | None = Field(
        default=None, gt=0, description="cap on the file system's aggregate bandwidth (None: no cap)"
    )
    restart_overhead_s: float = Field(default=DEFAULT_RESTART_OVERHEAD_S, ge=0, description="per restart, reload excluded")
    async_checkpoint: bool = False
    in_memory_checkpoint: bool = Field(default=False, description="Gemini-style: copy to a peer's RAM (implies async)")
    host_copy_bw_bytes_per_s: float = Field(default=DEFAULT_HOST_COPY_BW_BYTES_PER_S, gt=0)
    peer_bw_bytes_per_s_per_node: float = Field(default=DEFAULT_PEER_BW_BYTES_PER_S_PER_NODE, gt=0)
    checkpoint_interval_s: float | None = Field(default=None, gt=0, description="override the optimum (training s)")
    step_s: float | None = Field(default=None, gt=0, description="optimizer step time: checkpoints fall on whole steps")
    interval_method: Literal["daly", "young"] = "daly"
    max_job_hours: float | None = Field(default=None, gt=0, description="job-length limit of the cluster")
    queue_wait_s_per_resubmit: float = Field(default=DEFAULT_QUEUE_WAIT_S_PER_RESUBMIT, ge=0)
    include_planned: bool = Field(default=False, description="add the failure model's planned interruptions")

    @model_validator(mode="after")
    def _check(self) -> "ReliabilityInputs":
        if not math.isfinite(self.ideal_train_s):
            raise ValueError("ideal_train_s must be finite")
        return self

    @property
    def n_nodes(self) -> int:
        return -(-self.n_gpus // self.gpus_per_node)

    @property
    def checkpoint_mode(self) -> str:
        if self.in_memory_checkpoint:
            return "in-memory"
        return "async" if self.async_checkpoint else "sync"


class ReliabilityEstimate(BaseModel):
    """Expected interruptions, checkpoint plan and goodput of one training run (SI units)."""

    failure_model_id: str
    failure_source: str
    failure_rate_per_gpu_hour: float
    failure_rate_per_s: float = Field(description="of the whole job")
    mtbf_job_s: float
    expected_interruptions: float = Field(description="unexpected, over the running time")
    expected_interruptions_by_cause: dict[str, float] = Field(
        description="by component: gpu, hbm, network, host, software, unknown"
    )
    expected_interruptions_by_root_cause: dict[str, float]
    expected_planned_interruptions: float

    checkpoint_mode: str
    checkpoint_bytes: float
    checkpoint_write_s: float = Field(description="until a checkpoint is durable (storage, or peer RAM in-memory)")
    checkpoint_blocking_s: float = Field(description="training paused per checkpoint (= write for sync)")
    reload_s: float
    restart_s_per_interruption: float = Field(description="restart overhead + reload")
    young_interval_s: float
    daly_interval_s: float
    optimal_interval_s: float = Field(description="training seconds between checkpoints actually used")
    interval_method: str
    checkpoint_every_steps: int | None = Field(default=None, description="when step_s is given")
    n_checkpoints: int

    ideal_train_s: float
    expected_running_s: float = Field(description="allocated wall time: training + all overheads, queue excluded")
    expected_wall_s: float
    goodput: float = Field(description="ideal_train_s / expected_wall_s")
    expected_gpu_hours: float = Field(description="n_gpus x running time (what an allocation bills)")
    resubmissions: int
    queue_s: float

    checkpoint_overhead_s: float
    rework_s: float
    restart_s: float = Field(description="failure + planned + resubmission restarts")
    failure_restart_s: float
    planned_restart_s: float
    resubmit_restart_s: float
    notes: list[str] = Field(default_factory=list)

    @computed_field
    @property
    def expected_days(self) -> float:
        return self.expected_wall_s / _SECONDS_PER_DAY

    @computed_field
    @property
    def lost_s(self) -> float:
        return self.expected_wall_s - self.ideal_train_s


class SimulationResult(BaseModel):
    """Monte Carlo distribution of the completion time of one run (seconds)."""

    n: int
    seed: int
    mean_s: float
    std_s: float
    p50_s: float
    p90_s: float
    p99_s: float
    min_s: float
    max_s: float
    mean_interruptions: float
    p50_interruptions: float
    p90_interruptions: float
    analytic_mean_s: float
    goodput_mean: float = Field(description="ideal_train_s / mean_s")
    samples_s: list[float] | None = None

    @computed_field
    @property
    def relative_error_vs_analytic(self) -> float:
        return self.mean_s / self.analytic_mean_s - 1.0


# ---- the shared plan of one run -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    lam: float  # interruptions per second of running time
    mtbf_s: float
    write_s: float  # until durable
    blocking_s: float  # delta_b
    lag_s: float  # w: durable this long after the blocking part ends (0 for sync)
    reload_s: float
    restart_s: float  # R = overhead + reload
    tau: float
    young: float
    daly: float
    method: str
    k: int  # segments
    seg_s: float  # L = tau + delta_b
    last_seg_s: float  # L_last
    planned_per_s: float
    planned_cost_s: float  # final checkpoint + restart
    job_limit_s: float | None


def _plan(inp: ReliabilityInputs) -> _Plan:
    fm = inp.failure_model
    lam = fm.rate_per_gpu_hour * inp.n_gpus / _SECONDS_PER_HOUR
    mtbf = math.inf if lam == 0 else 1.0 / lam
    nodes = inp.n_nodes
    agg = inp.storage_bw_bytes_per_s_per_node * nodes
    if inp.storage_bw_bytes_per_s_total is not None:
        agg = min(agg, inp.storage_bw_bytes_per_s_total)
    storage_s = inp.checkpoint_bytes / agg

    if inp.in_memory_checkpoint:
        peer_s = inp.checkpoint_bytes / nodes / inp.peer_bw_bytes_per_s_per_node
        blocking = inp.checkpoint_bytes / inp.n_gpus / inp.host_copy_bw_bytes_per_s
        write, reload = peer_s, peer_s
    elif inp.async_checkpoint:
        blocking = inp.checkpoint_bytes / inp.n_gpus / inp.host_copy_bw_bytes_per_s
        write, reload = storage_s, storage_s
    else:
        blocking = write = reload = storage_s
    lag = max(write - blocking, 0.0) if (inp.async_checkpoint or inp.in_memory_checkpoint) else 0.0
    restart = inp.restart_overhead_s + reload

    young = young_interval_s(blocking, mtbf)
    daly = daly_interval_s(blocking, mtbf)
    if inp.checkpoint_interval_s is not None:
        tau, method = inp.checkpoint_interval_s, "user"
    else:
        tau, method = (daly, "daly") if inp.interval_method == "daly" else (young, "young")
    floor = max(MIN_CHECKPOINT_INTERVAL_S, lag)  # an async write must finish before the next one starts
    if tau < floor:
        tau, method = floor, f"{method}, raised to {'the write time' if lag > MIN_CHECKPOINT_INTERVAL_S else 'the minimum'}"
    if inp.step_s is not None:  # checkpoints are taken between optimizer steps
        steps = max(1, round(tau / inp.step_s))
        if steps * inp.step_s < floor:
            steps = math.ceil(floor / inp.step_s)
        tau = steps * inp.step_s

    limit = inp.max_job_hours * _SECONDS_PER_HOUR if inp.max_job_hours is not None else None
    cost = blocking + lag + restart  # checkpoint at a planned stop or job-limit end, then restart
    if limit is not None:
        if limit <= 2 * cost + MIN_CHECKPOINT_INTERVAL_S:
            raise FlopwiseError(
                f"--max-job-hours {inp.max_job_hours:g} is too short: each allocation would spend most of its "
                f"time restarting ({restart / 60:.1f} min) and checkpointing ({(blocking + lag) / 60:.1f} min)"
            )
        if tau > limit - cost:
            tau, method = limit - cost, f"{method}, capped at one allocation"
    if tau >= inp.ideal_train_s:
        tau, method = inp.ideal_train_s, f"{method}, capped at the whole run (one checkpoint at the end)"
    k = max(1, math.ceil(inp.ideal_train_s / tau - 1e-9))
    last_tau = inp.ideal_train_s - (k - 1) * tau
    planned = fm.planned_per_job_day / _SECONDS_PER_DAY if inp.include_planned else 0.0
    if planned * cost >= 1.0:
        raise FlopwiseError("planned interruptions come faster than a restart completes; the job never runs")
    return _Plan(
        lam=lam, mtbf_s=mtbf, write_s=write, blocking_s=blocking, lag_s=lag, reload_s=reload, restart_s=restart,
        tau=tau, young=young, daly=daly, method=method, k=k, seg_s=tau + blocking, last_seg_s=last_tau + blocking,
        planned_per_s=planned, planned_cost_s=cost, job_limit_s=limit,
    )


def _step_s(lam: float, clean_s: float, fresh_s: float) -> float:
    """Expected wall time to commit one segment: it needs `clean_s` failure-free, or `fresh_s` after a failure."""
    if lam == 0:
        return clean_s
    with np.errstate(over="ignore"):
        grow = float(np.exp(lam * fresh_s))
    return -math.expm1(-lam * clean_s) * grow / lam


def _expected_running_s(p: _Plan) -> float:
    """Exact expected running time (training + checkpoints + rework + restarts) for Poisson failures."""
    lam, r, w, seg, last = p.lam, p.restart_s, p.lag_s, p.seg_s, p.last_seg_s
    if p.k == 1:
        return _step_s(lam, last + w, r + last + w)
    first = _step_s(lam, seg + w, r + seg + w)  # launch: no restart before the first segment
    middle = (p.k - 2) * _step_s(lam, seg, r + seg + w)
    final = _step_s(lam, last, r + last + w)
    return first + middle + final


def _planned_total_s(running_s, p: _Plan):
    """Running time including planned stops (each: final checkpoint + restart). Works on arrays too."""
    return running_s / (1.0 - p.planned_per_s * p.planned_cost_s)


def _resubmissions(running_s, p: _Plan):
    """Resubmissions for a job-length limit: the first allocation gives `limit`, later ones limit - cost."""
    if p.job_limit_s is None:
        return np.zeros_like(np.asarray(running_s, dtype=float), dtype=np.int64)
    extra = np.asarray(running_s, dtype=float) - p.job_limit_s
    per = p.job_limit_s - p.planned_cost_s
    with np.errstate(invalid="ignore"):
        n = np.where(extra > 0, np.ceil(extra / per - 1e-12), 0.0)
    return np.where(np.isfinite(n), n, np.iinfo(np.int64).max // 2).astype(np.int64)


def estimate_reliability(inp: ReliabilityInputs) -> ReliabilityEstimate:
    """Expected interruptions, optimal checkpoint interval, lost time by kind, and goodput of one run."""
    p = _plan(inp)
    fm = inp.failure_model
    running = _expected_running_s(p)  # failures only
    notes: list[str] = []
    finite = math.isfinite(running)
    if not finite:
        notes.append("the job practically never completes: restarts plus a checkpoint interval outlast the MTBF")

    with_planned = _planned_total_s(running, p)
    planned_restart = with_planned - running
    n_planned = p.planned_per_s * with_planned
    n_resub = int(_resubmissions(with_planned, p)) if finite else 0
    resub_restart = n_resub * p.planned_cost_s
    queue = n_resub * inp.queue_wait_s_per_resubmit
    total_running = with_planned + resub_restart
    wall = total_running + queue

    n_fail = p.lam * running
    fail_restart = 0.0 if p.lam == 0 else n_fail * (-math.expm1(-p.lam * p.restart_s)) / p.lam
    ckpt_overhead = p.k * p.blocking_s + p.lag_s
    rework = max(running - inp.ideal_train_s - fail_restart - ckpt_overhead, 0.0) if finite else math.inf

    scale = running * inp.n_gpus / _SECONDS_PER_HOUR
    by_component = {c: r * scale for c, r in fm.rate_by_component().items()}
    by_root = {c: r * scale for c, r in fm.rate_by_cause().items()}
    if inp.max_job_hours is not None:
        notes.append(
            f"job limit {inp.max_job_hours:g} h: each resubmission costs a checkpoint, a restart and "
            f"{inp.queue_wait_s_per_resubmit / 60:.0f} min in the queue"
        )
    if p.lam == 0:
        notes.append("the failure model has a zero rate: only checkpoint overhead is counted")
    elif finite and running > 2 * inp.ideal_train_s:
        notes.append(
            f"failures dominate: job MTBF {p.mtbf_s / 3600:.3g} h against a restart of {p.restart_s / 60:.3g} min "
            "and a checkpoint interval; fewer GPUs, faster restarts or in-memory checkpoints would help"
        )

    return ReliabilityEstimate(
        failure_model_id=fm.id,
        failure_source=fm.source,
        failure_rate_per_gpu_hour=fm.rate_per_gpu_hour,
        failure_rate_per_s=p.lam,
        mtbf_job_s=p.mtbf_s,
        expected_interruptions=n_fail,
        expected_interruptions_by_cause=by_component,
        expected_interruptions_by_root_cause=by_root,
        expected_planned_interruptions=n_planned,
        checkpoint_mode=inp.checkpoint_mode,
        checkpoint_bytes=inp.checkpoint_bytes,
        checkpoint_write_s=p.write_s,
        checkpoint_blocking_s=p.blocking_s,
        reload_s=p.reload_s,
        restart_s_per_interruption=p.restart_s,
        young_interval_s=p.young,
        daly_interval_s=p.daly,
        optimal_interval_s=p.tau,
        interval_method=p.method,
        checkpoint_every_steps=round(p.tau / inp.step_s) if inp.step_s and p.tau < inp.ideal_train_s else None,
        n_checkpoints=p.k,
        ideal_train_s=inp.ideal_train_s,
        expected_running_s=total_running,
        expected_wall_s=wall,
        goodput=inp.ideal_train_s / wall if finite else 0.0,
        expected_gpu_hours=total_running * inp.n_gpus / _SECONDS_PER_HOUR,
        resubmissions=n_resub,
        queue_s=queue,
        checkpoint_overhead_s=ckpt_overhead,
        rework_s=rework,
        restart_s=fail_restart + planned_restart + resub_restart,
        failure_restart_s=fail_restart,
        planned_restart_s=planned_restart,
        resubmit_restart_s=resub_restart,
        notes=notes,
    )


# ---- Monte Carlo ----------------------------------------------------------------------------------------


def _simulate_chunk(p: _Plan, n: int, rng: np.random.Generator, on_done=None) -> tuple[np.ndarray, np.ndarray]:
    """Running time (failures only) and interruption count of `n` runs; one loop pass per interruption.

    Each pass draws the next failure time of every unfinished run. A run that just restarted needs
    R + L + w failure-free seconds to make its next checkpoint durable (the very first launch: L + w),
    then every further L seconds adds one; the last segment is L_last. If the failure comes before the
    run ends, the committed segments are kept, the time until the failure is spent, and the run restarts.
    """
    seg, last, w, r = p.seg_s, p.last_seg_s, p.lag_s, p.restart_s
    time = np.zeros(n)
    fails = np.zeros(n, dtype=np.int64)
    remaining = np.full(n, p.k, dtype=np.int64)  # segments still to commit
    restarting = np.zeros(n, dtype=bool)  # False only before the first failure
    active = np.arange(n)
    while active.size:
        rem = remaining[active]
        rst = restarting[active]
        one = rem == 1
        first = np.where(rst, r, 0.0) + w + np.where(one, last, seg)  # failure-free time to commit one segment
        finish = first + np.where(one, 0.0, (rem - 2) * seg + last)  # ... to commit all that remain
        x = rng.exponential(p.mtbf_s, size=active.size) if p.lam > 0 else np.full(active.size, np.inf)
        done = x >= finish
        time[active] += np.where(done, finish, x)
        failed = ~done
        xf, ff = x[failed], first[failed]
        commits = np.where(xf >= ff, 1 + np.floor((xf - ff) / seg), 0).astype(np.int64)
        idx = active[failed]
        remaining[idx] -= commits
        fails[idx] += 1
        restarting[idx] = True
        if on_done is not None:
            on_done(int(done.sum()))
        active = idx
    return time, fails


def simulate(
    inp: ReliabilityInputs, n: int, seed: int = 0, progress: bool = False, keep_samples: bool = False
) -> SimulationResult:
    """Sample `n` runs of the job with exponential failure times and summarise their completion times.

    Vectorised over runs (NumPy); loops once per interruption of the unluckiest run (hundreds for a
    16k-GPU, 54-day job), never per checkpoint segment. Planned stops are drawn as Poisson counts over
    each run's running time; resubmissions follow each run's own running time.
    """
    if n <= 0:
        raise FlopwiseError(f"--simulate needs a positive number of runs, got {n}")
    p = _plan(inp)
    analytic = estimate_reliability(inp)
    if not math.isfinite(analytic.expected_wall_s) or analytic.expected_interruptions > MAX_SIMULATED_INTERRUPTIONS_PER_RUN:
        raise FlopwiseError(
            f"cannot simulate: about {analytic.expected_interruptions:.3g} interruptions per run expected "
            f"(MTBF {p.mtbf_s / 3600:.3g} h); the job practically never completes"
        )
    rng = np.random.default_rng(seed)
    chunk = 200_000
    times, fails = [], []

    def run_all(update):
        for start in range(0, n, chunk):
            t, f = _simulate_chunk(p, min(chunk, n - start), rng, update)
            times.append(t)
            fails.append(f)

    if progress and n >= PROGRESS_MIN_RUNS:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("simulating runs"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True,
        ) as bar:
            task = bar.add_task("simulate", total=n)
            run_all(lambda k: bar.advance(task, k))
    else:
        run_all(None)

    running = np.concatenate(times)
    n_fail = np.concatenate(fails)
    if p.planned_per_s > 0:
        expected_planned = p.planned_per_s * _planned_total_s(running, p)
        running = running + rng.poisson(expected_planned) * p.planned_cost_s
    n_resub = _resubmissions(running, p)
    wall = running + n_resub * (p.planned_cost_s + inp.queue_wait_s_per_resubmit)

    q50, q90, q99 = np.percentile(wall, [50, 90, 99])
    f50, f90 = np.percentile(n_fail, [50, 90])
    mean = float(wall.mean())
    return SimulationResult(
        n=n,
        seed=seed,
        mean_s=mean,
        std_s=float(wall.std(ddof=1)) if n > 1 else 0.0,
        p50_s=float(q50),
        p90_s=float(q90),
        p99_s=float(q99),
        min_s=float(wall.min()),
        max_s=float(wall.max()),
        mean_interruptions=float(n_fail.mean()),
        p50_interruptions=float(f50),
        p90_interruptions=float(f90),
        analytic_mean_s=analytic.expected_wall_s,
        goodput_mean=inp.ideal_train_s / mean,
        samples_s=wall.tolist() if keep_samples else None,
    )
