"""How fast `flopwise fleet` simulates, and how close it lands to published closed-form results.

    python benchmarks/fleet_bench.py                  # 100,000 jobs on 2,000 GPUs (EASY backfilling)
    python benchmarks/fleet_bench.py --policies all   # ... every policy
    python benchmarks/fleet_bench.py --queueing       # FIFO vs SJF average JCT against M/G/1 formulas

The scale target (issue 10): 100,000 jobs on a 2,000-GPU cluster in under 30 s on a 2-core machine.
The cluster: 150 nodes of 8 A100 + 100 nodes of 8 V100, 8 groups, a 72 h time limit, failures at the
Llama 3 rate; the workload: the synthetic generator at 90% offered load (docs/fleet.md).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from flopwise.fleet.cluster import cluster_from_dict
from flopwise.fleet.policies import policy_classes
from flopwise.fleet.queueing import mm1_fifo_mean_jct_s, mm1_sjf_mean_jct_s, poisson_exponential_jobs
from flopwise.fleet.simulator import simulate
from flopwise.fleet.synthetic import generate

BENCH_CLUSTER = {
    "name": "bench-2000",
    "pools": [
        {"name": "a100", "accelerator": "a100-sxm4-80gb", "nodes": 150, "gpus_per_node": 8},
        {"name": "v100", "accelerator": "v100-sxm2-32gb", "nodes": 100, "gpus_per_node": 8},
    ],
    "groups": [{"name": f"group{i}", "share": 1 + i % 3, "quota_gpus": 800} for i in range(8)],
    "levers": {"max_time_limit_h": 72},
}


def scale(policies: list[str], jobs_n: int, load: float, seed: int) -> None:
    cluster = cluster_from_dict(BENCH_CLUSTER)
    t0 = time.perf_counter()
    jobs = generate(cluster, jobs=jobs_n, load=load, seed=seed)
    gen_s = time.perf_counter() - t0
    cores = os.cpu_count()
    print(f"cluster {cluster.name}: {cluster.total_gpus:,} GPUs; workload: {len(jobs):,} synthetic jobs at "
          f"{load:.0%} offered load (generated in {gen_s:.2f} s); {cores} CPU cores")
    for p in policies:
        t0 = time.perf_counter()
        r = simulate(cluster, jobs, p, progress=sys.stderr.isatty()).result
        wall = time.perf_counter() - t0
        print(f"  {p:10s} {len(jobs):,} jobs on {cluster.total_gpus:,} GPUs simulated in {wall:6.2f} s "
              f"({r.events:,} events, {r.passes:,} passes; avg JCT {r.avg_jct_s / 3600:.2f} h, "
              f"utilization {r.utilization:.1%})  target < 30 s: {'ok' if wall < 30 else 'MISSED'}")


def queueing(seeds: int, jobs_n: int) -> None:
    mean = 3600.0
    one_gpu = cluster_from_dict({"name": "one-gpu", "pools": [
        {"name": "g", "accelerator": "a100-sxm4-80gb", "nodes": 1, "gpus_per_node": 1}],
        "levers": {"failure_rate_per_gpu_hour": 0, "checkpoint_interval_s": None}})
    print(f"M/M/1, one-GPU jobs, exponential durations (mean 1 h), {seeds} seeds x {jobs_n:,} jobs; "
          "published: Pollaczek-Khinchine (FIFO), Phipps 1956 / Conway-Maxwell-Miller 1967 (non-preemptive SJF)")
    print(f"{'load':>5} {'policy':>6} {'simulated h':>14} {'published h':>12} {'gap':>8}")
    for rho in (0.5, 0.8, 0.9):
        rate = rho / mean
        sims = {"fifo": [], "sjf": []}
        for seed in range(seeds):
            jobs = poisson_exponential_jobs(jobs_n, rate, mean, seed=seed)
            for p in sims:
                sims[p].append(simulate(one_gpu, jobs, p, record_timeline=False).result.avg_jct_s)
        theory = {"fifo": mm1_fifo_mean_jct_s(rate, mean), "sjf": mm1_sjf_mean_jct_s(rate, mean)}
        for p, vals in sims.items():
            v = np.array(vals) / 3600
            th = theory[p] / 3600
            err = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
            print(f"{rho:5.2f} {p:>6} {v.mean():8.3f} ±{err:5.3f} {th:12.3f} {100 * (v.mean() / th - 1):+7.2f}%")
        ratio = np.mean(sims["sjf"]) / np.mean(sims["fifo"])
        th_ratio = theory["sjf"] / theory["fifo"]
        print(f"{rho:5.2f}  SJF/FIFO simulated {ratio:.3f}, published {th_ratio:.3f}, gap {100 * (ratio / th_ratio - 1):+.2f}%")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--policies", default="easy", help="comma-separated, or 'all' (default: easy)")
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--load", type=float, default=0.9)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--queueing", action="store_true", help="check FIFO and SJF against M/G/1 formulas instead")
    ap.add_argument("--seeds", type=int, default=10, help="--queueing: independent runs per point")
    args = ap.parse_args()
    if args.queueing:
        queueing(args.seeds, args.jobs if args.jobs != 100_000 else 50_000)
        return
    names = list(policy_classes()) if args.policies == "all" else [p.strip() for p in args.policies.split(",")]
    scale(names, args.jobs, args.load, args.seed)


if __name__ == "__main__":
    main()
