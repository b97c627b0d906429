"""Time the exhaustive plan search for megatron-1t on 3072 A100-80GB, global batch 3072.

Target (issue 3): under 1 second of search time on a 2-core machine. Prints the median of several runs.
"""

from __future__ import annotations

import statistics
import time

from flopwise.catalog.models import get_model
from flopwise.catalog.systems import make_cluster
from flopwise.estimate.training import TrainingJob
from flopwise.plan.search import search


def main() -> None:
    job = TrainingJob(get_model("megatron-1t"), make_cluster(gpu="a100-sxm4-80gb"), 3072, 2048, "fp16")
    search(job, 3072)  # warm-up (imports, caches)
    times = []
    for _ in range(10):
        t0 = time.perf_counter()
        res = search(job, 3072)
        times.append(time.perf_counter() - t0)
    best = res.plan(0)
    print(f"megatron-1t on 3072 x a100-sxm4-80gb, batch 3072: {res.plans_evaluated} plans evaluated, "
          f"{res.plans_valid} valid; search time median {statistics.median(times) * 1e3:.1f} ms, "
          f"max {max(times) * 1e3:.1f} ms (target < 1000 ms)")
    print(f"best plan: {best.label()}")


if __name__ == "__main__":
    main()
