"""Closed-form queueing results the simulator is checked against, and the workloads that match them.

With Poisson arrivals and exponential durations of single-GPU jobs (a workload rebuilt exactly from
its description), classical results give the mean job completion time (response time):
- FIFO on one server, M/G/1: Pollaczek-Khinchine, E[T] = E[S] + λE[S²] / (2(1 - ρ)).
- Non-preemptive shortest-job-first on one server, M/G/1 (Phipps 1956; Conway, Maxwell & Miller,
  Theory of Scheduling, 1967; Harchol-Balter, Performance Modeling and Design of Computer Systems,
  2013, ch. 31): E[T_Q(x)] = (λE[S²]/2) / (1 - ρ(x))², ρ(x) = λ∫₀ˣ t f(t) dt; E[T] = E[S] + ∫ E[T_Q(x)] f(x) dx.
- FIFO on c servers, M/M/c: Erlang C, E[T] = E[S] + C(c, a) E[S] / (c - a), a = λE[S].
"""

from __future__ import annotations

import math

import numpy as np

from flopwise.errors import FlopwiseError
from flopwise.fleet.jobs import Job


def _check(rate_per_s: float, mean_s: float, servers: int = 1) -> float:
    rho = rate_per_s * mean_s / servers
    if not (rate_per_s > 0 and mean_s > 0 and 0 < rho < 1):
        raise FlopwiseError(f"need 0 < load < 1, got {rho:g}")
    return rho


def mg1_fifo_mean_jct_s(rate_per_s: float, mean_s: float, second_moment_s2: float) -> float:
    rho = _check(rate_per_s, mean_s)
    return mean_s + rate_per_s * second_moment_s2 / (2 * (1 - rho))


def mm1_fifo_mean_jct_s(rate_per_s: float, mean_s: float) -> float:
    return mg1_fifo_mean_jct_s(rate_per_s, mean_s, 2 * mean_s**2)


def mm1_sjf_mean_jct_s(rate_per_s: float, mean_s: float, points: int = 400_001) -> float:
    """Non-preemptive SJF with exponential durations (numerical integral, relative error < 1e-6)."""
    _check(rate_per_s, mean_s)
    x = np.linspace(0.0, 60.0 * mean_s, points)
    f = np.exp(-x / mean_s) / mean_s
    rho_x = rate_per_s * mean_s * (1.0 - np.exp(-x / mean_s) * (1.0 + x / mean_s))
    wait_x = rate_per_s * (2 * mean_s**2) / 2 / (1.0 - rho_x) ** 2
    return mean_s + float(np.trapezoid(wait_x * f, x))


def mmc_fifo_mean_jct_s(servers: int, rate_per_s: float, mean_s: float) -> float:
    """M/M/c FIFO mean response time (Erlang C)."""
    _check(rate_per_s, mean_s, servers)
    a = rate_per_s * mean_s
    c = servers
    terms = sum(a**k / math.factorial(k) for k in range(c))
    last = a**c / math.factorial(c) * c / (c - a)
    p_wait = last / (terms + last)
    return mean_s + p_wait * mean_s / (c - a)


def poisson_exponential_jobs(n: int, rate_per_s: float, mean_s: float, seed: int = 0, gpus: int = 1) -> list[Job]:
    """The matching workload: Poisson arrivals, exponential durations, no time limits, one group."""
    rng = np.random.default_rng(seed)
    submit = np.cumsum(rng.exponential(1.0 / rate_per_s, size=n))
    dur = rng.exponential(mean_s, size=n)
    return [Job(id=f"q{i}", submit_s=float(submit[i]), gpus=gpus, duration_s=float(dur[i])) for i in range(n)]
