"""A synthetic workload with documented distributions (all drawn from one seeded NumPy generator).

- GPUs per job: categorical, GPU_MIX below — most jobs use one GPU, few more than eight, the shape
  reported for the Philly (Jeon et al. ATC'19) and Helios (Hu et al. SC'21) clusters. Sizes larger
  than the biggest pool are dropped and the rest renormalized.
- Duration (on the first pool's accelerator): log-normal, median `duration_median_s` (default
  30 min), sigma `duration_sigma` (default 1.8: mean about 2.5 h, 1% of jobs above 33 h),
  clipped to [1 min, 7 days]; independent of the GPU count.
- Arrivals: Poisson. The rate is set so the offered load (sum of GPUs x duration / span) is `load`
  times the cluster's capacity in first-pool GPU equivalents (each pool's GPUs times its speed for
  a job naming no model, see speedups.py), unless `arrival_rate_per_h` is given. With `diurnal_amplitude` a, the
  rate follows 1 + a·sin(2π·t/day) (thinning), as university clusters are busier by day.
- Group: drawn in proportion to the groups' shares in the cluster file (one group `default` if
  none); user: one of `users_per_group` per group.
- Time limit (what the user asks Slurm for): duration x U(1, 4), rounded up to whole hours and
  capped at the cluster's max_time_limit — users overestimate, and round (Tsafrir et al. 2007).
- Model: with probability `named_fraction` the job names a catalog model sized to its GPU count
  (MODELS_BY_GPUS), so its speed on each accelerator comes from the training planner; other jobs
  speed up by peak FLOP/s ratio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from flopwise.errors import FlopwiseError
from flopwise.fleet.cluster import ClusterSpec
from flopwise.fleet.jobs import Job
from flopwise.fleet.speedups import effective_gpus

GPU_MIX = {1: 0.55, 2: 0.12, 4: 0.13, 8: 0.12, 16: 0.05, 32: 0.02, 64: 0.01}
MODELS_BY_GPUS = {  # up to this many GPUs -> models a job of that size trains
    2: ("gpt3-125m", "gpt3-350m"),
    8: ("gpt3-760m", "gpt3-1.3b"),
    10**9: ("gpt3-2.7b", "llama-2-7b"),
}
DAY_S = 86400.0


@dataclass
class WorkloadSpec:
    jobs: int = 1000
    load: float = 0.8
    arrival_rate_per_h: float | None = None
    duration_median_s: float = 1800.0
    duration_sigma: float = 1.8
    duration_min_s: float = 60.0
    duration_max_s: float = 7 * DAY_S
    diurnal_amplitude: float = 0.3
    named_fraction: float = 0.5
    users_per_group: int = 8
    gpu_mix: dict[int, float] = field(default_factory=lambda: dict(GPU_MIX))
    seed: int = 0


def generate(cluster: ClusterSpec, spec: WorkloadSpec | None = None, **overrides) -> list[Job]:
    s = spec or WorkloadSpec()
    for k, v in overrides.items():
        if not hasattr(s, k):
            raise FlopwiseError(f"unknown workload setting '{k}'")
        setattr(s, k, v)
    if s.jobs <= 0:
        raise FlopwiseError(f"workload: jobs (the number of jobs to generate) must be positive, got {s.jobs}")
    if not 0 < s.load <= 10:
        raise FlopwiseError(f"workload: load (offered GPU-time as a fraction of the cluster's capacity) "
                            f"must be in (0, 10], got {s.load:g}")
    if not 0 <= s.diurnal_amplitude < 1:
        raise FlopwiseError(f"workload: diurnal_amplitude must be in [0, 1), got {s.diurnal_amplitude:g}")
    if isinstance(s.seed, bool) or not isinstance(s.seed, int) or s.seed < 0:
        raise FlopwiseError(f"workload: seed must be a non-negative integer, got {s.seed!r}")
    rng = np.random.default_rng(s.seed)
    n = s.jobs
    biggest = max(p.gpus for p in cluster.pools)
    sizes = np.array([g for g in s.gpu_mix if g <= biggest])
    if not len(sizes):
        raise FlopwiseError(f"no GPU count of the mix fits the largest pool ({biggest} GPUs)")
    probs = np.array([s.gpu_mix[g] for g in sizes], dtype=float)
    gpus = rng.choice(sizes, size=n, p=probs / probs.sum())
    dur = np.clip(s.duration_median_s * np.exp(s.duration_sigma * rng.standard_normal(n)),
                  s.duration_min_s, s.duration_max_s)
    rate_per_s = (s.arrival_rate_per_h / 3600.0 if s.arrival_rate_per_h
                  else s.load * effective_gpus(cluster) / float(np.mean(gpus * dur)))
    submit = _arrivals(rng, n, rate_per_s, s.diurnal_amplitude)
    groups = cluster.groups or []
    names = [g.name for g in groups] or ["default"]
    w = np.array([g.share for g in groups] or [1.0])
    gidx = rng.choice(len(names), size=n, p=w / w.sum())
    uidx = rng.integers(0, s.users_per_group, size=n)
    over = rng.uniform(1.0, 4.0, size=n)
    limit = np.ceil(dur * over / 3600.0) * 3600.0
    if cluster.levers.max_time_limit_s:
        limit = np.minimum(limit, cluster.levers.max_time_limit_s)
    named = rng.random(n) < s.named_fraction
    pick = rng.integers(0, 2, size=n)
    jobs = []
    for i in range(n):
        g = int(gpus[i])
        model = None
        if named[i]:
            for cap, models in MODELS_BY_GPUS.items():
                if g <= cap:
                    model = models[int(pick[i]) % len(models)]
                    break
        grp = names[int(gidx[i])]
        jobs.append(Job(id=f"j{i:06d}", submit_s=round(float(submit[i]), 3), gpus=g,
                        duration_s=round(float(dur[i]), 3), group=grp, user=f"{grp}-u{int(uidx[i])}",
                        time_limit_s=float(limit[i]), model=model))
    return jobs


def _arrivals(rng: np.random.Generator, n: int, rate_per_s: float, amplitude: float) -> np.ndarray:
    """n Poisson arrival times at mean rate `rate_per_s`, modulated by 1 + a·sin(2πt/day)."""
    if amplitude <= 0:
        return np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))
    peak = rate_per_s * (1 + amplitude)
    out: list[np.ndarray] = []
    t, have = 0.0, 0
    while have < n:
        m = int((n - have) * (1 + amplitude) * 1.2) + 16
        cand = t + np.cumsum(rng.exponential(1.0 / peak, size=m))
        keep = rng.random(m) < (1 + amplitude * np.sin(2 * np.pi * cand / DAY_S)) / (1 + amplitude)
        out.append(cand[keep])
        have += int(keep.sum())
        t = float(cand[-1])
    return np.concatenate(out)[:n]
