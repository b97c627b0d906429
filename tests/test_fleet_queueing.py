"""The simulator against published closed-form results, on workloads rebuilt exactly from their
description (Poisson arrivals, exponential durations, one-GPU jobs): FIFO vs SJF average JCT."""

from __future__ import annotations

import numpy as np
import pytest

from flopwise.fleet.cluster import cluster_from_dict
from flopwise.fleet.queueing import (mm1_fifo_mean_jct_s, mm1_sjf_mean_jct_s, mmc_fifo_mean_jct_s,
                                     poisson_exponential_jobs)
from flopwise.fleet.simulator import simulate

MEAN_S = 3600.0


def gpus(n: int):
    return cluster_from_dict({"name": "q", "pools": [{"name": "g", "accelerator": "a100-sxm4-80gb", "nodes": 1,
                                                      "gpus_per_node": n}],
                              "levers": {"failure_rate_per_gpu_hour": 0, "checkpoint_interval_s": None}})


def test_closed_forms_match_textbook_values():
    # M/M/1 at rho = 0.8: FIFO E[T] = E[S] / (1 - rho) = 5 E[S]
    assert mm1_fifo_mean_jct_s(0.8 / MEAN_S, MEAN_S) == pytest.approx(5 * MEAN_S)
    # SJF beats FIFO; at light load both tend to E[S]
    sjf = mm1_sjf_mean_jct_s(0.8 / MEAN_S, MEAN_S)
    assert MEAN_S < sjf < 5 * MEAN_S
    assert mm1_sjf_mean_jct_s(1e-6 / MEAN_S, MEAN_S) == pytest.approx(MEAN_S, rel=1e-4)
    # Erlang C with one server is M/M/1
    assert mmc_fifo_mean_jct_s(1, 0.8 / MEAN_S, MEAN_S) == pytest.approx(5 * MEAN_S)


def test_fifo_on_one_gpu_is_exactly_the_lindley_recursion():
    jobs = poisson_exponential_jobs(3000, 0.8 / MEAN_S, MEAN_S, seed=4)
    fr = simulate(gpus(1), jobs, "fifo", record_timeline=False)
    end, expected = 0.0, []
    for j in jobs:
        end = max(j.submit_s, end) + j.duration_s
        expected.append(end - j.submit_s)
    got = [r.end - r.submit for r in fr.sim.runs]
    assert np.allclose(got, expected, rtol=0, atol=1e-6)


def test_sjf_vs_fifo_average_jct_matches_the_mg1_formulas():
    rate = 0.8 / MEAN_S
    jobs = poisson_exponential_jobs(10_000, rate, MEAN_S, seed=0)
    fifo = simulate(gpus(1), jobs, "fifo", record_timeline=False).result.avg_jct_s
    sjf = simulate(gpus(1), jobs, "sjf", record_timeline=False).result.avg_jct_s
    th_fifo, th_sjf = mm1_fifo_mean_jct_s(rate, MEAN_S), mm1_sjf_mean_jct_s(rate, MEAN_S)
    assert fifo == pytest.approx(th_fifo, rel=0.15)  # sampling noise of 10k jobs at rho 0.8: ~6%
    assert sjf == pytest.approx(th_sjf, rel=0.15)
    assert sjf / fifo == pytest.approx(th_sjf / th_fifo, rel=0.10)  # the ratio is steadier


def test_fifo_on_eight_gpus_matches_erlang_c():
    rate = 8 * 0.8 / MEAN_S
    jobs = poisson_exponential_jobs(10_000, rate, MEAN_S, seed=1)
    got = simulate(gpus(8), jobs, "fifo", record_timeline=False).result.avg_jct_s
    assert got == pytest.approx(mmc_fifo_mean_jct_s(8, rate, MEAN_S), rel=0.08)
