"""The fleet simulator's invariants (conservation), topology blocks (the optical-switch case),
node packing and fragmentation, and the metrics' definitions."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest

from flopwise.fleet.cluster import cluster_from_dict, load_cluster
from flopwise.fleet.jobs import Job
from flopwise.fleet.metrics import isolated_jct
from flopwise.fleet.placement import NodeSet
from flopwise.fleet.policies import policy_classes
from flopwise.fleet.simulator import DONE, TIMEOUT, UNSCHEDULABLE, simulate
from flopwise.fleet.synthetic import generate

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fleet" / "university.yaml"
QUIET = {"failure_rate_per_gpu_hour": 0, "checkpoint_interval_s": None, "preemption_cost_s": 0}


# ---- conservation ----------------------------------------------------------------------------------

def check_conservation(fr, cluster) -> None:
    sim = fr.sim
    caps = [p.gpus for p in cluster.pools]
    deltas = defaultdict(int)
    for r in sim.runs:
        if r.state == UNSCHEDULABLE:
            assert not r.segments
            continue
        assert r.state in (DONE, TIMEOUT), r  # every job ends, once
        segs = r.segments
        assert segs, r  # and started
        assert segs[0][0] == r.first_start >= r.submit
        assert segs[-1][1] == r.end
        for (a, b, _, _), (c, _, _, _) in zip(segs, segs[1:]):
            assert a <= b <= c  # attempts never overlap
        for a, b, p, held in segs:
            deltas[(a, p)] += held
            deltas[(b, p)] -= held
    in_use = [0] * len(caps)
    for (t, p), d in sorted(deltas.items(), key=lambda kv: (kv[0][0], kv[1])):  # releases before starts
        in_use[p] += d
        assert 0 <= in_use[p] <= caps[p], (t, p, in_use[p])
    assert max(sim.ts_busy) <= cluster.total_gpus
    assert sum(in_use) == 0 and sim.busy == 0 and sim.free_total == cluster.total_gpus


@pytest.mark.parametrize("policy", sorted(policy_classes()))
def test_conservation_every_job_starts_and_ends_once_gpus_never_exceed_the_cluster(policy):
    c = load_cluster(EXAMPLE)
    # failures and short time limits on purpose: requeues, restarts and preemptions all happen
    c = c.model_copy(update={"levers": c.levers.model_copy(update={
        "failure_rate_per_gpu_hour": 0.02, "max_time_limit_s": 6 * 3600, "seed": 1})})
    jobs = generate(c, jobs=400, load=0.9, seed=5)
    fr = simulate(c, jobs, policy)
    check_conservation(fr, c)
    r = fr.result
    assert r.jobs_completed + r.jobs_timeout + r.jobs_unschedulable == r.jobs == 400
    assert r.failures > 0 and r.requeues > 0
    assert 0 < r.utilization <= 1 and 0 <= r.fragmented_gpu_fraction <= r.utilization + 1


def test_same_seed_same_schedule():
    c = load_cluster(EXAMPLE)
    jobs = generate(c, jobs=200, seed=2)
    a, b = simulate(c, jobs, "las").result, simulate(c, jobs, "las").result
    assert a.avg_jct_s == b.avg_jct_s and a.failures == b.failures


# ---- topology: contiguous blocks vs an optical circuit switch ---------------------------------------

def tpu_pod(kind: str):
    # 1,024 chips: 256 hosts of 4 chips, in 16 blocks of 64 chips (16 hosts)
    return cluster_from_dict({"name": "pod", "levers": QUIET, "pools": [
        {"name": "v4", "accelerator": "tpu-v4", "nodes": 256, "gpus_per_node": 4,
         "topology": {"kind": kind, "block_nodes": 16}}]})


def scattered_then_big():
    # 16 one-block jobs fill the pod (job i lands on block i); the even ones end at t=10, so 8 free
    # blocks are scattered (0, 2, 4, ...). At t=20 a 512-chip (8-block) job arrives.
    jobs = [Job(id=f"b{i}", submit_s=i * 1e-3, gpus=64, duration_s=10 if i % 2 == 0 else 1000) for i in range(16)]
    jobs.append(Job(id="big", submit_s=20, gpus=512, duration_s=100))
    return jobs


def test_optical_switch_starts_a_512_chip_job_on_scattered_blocks_at_once():
    fr = simulate(tpu_pod("reconfigurable"), scattered_then_big(), "fifo")
    runs = {r.job.id: r for r in fr.sim.runs}
    assert [runs[f"b{i}"].placement[0][0] for i in range(16)] == list(range(16))  # block i
    big = runs["big"]
    assert big.first_start == 20
    assert sorted({b for b, _, _ in big.placement}) == [0, 2, 4, 6, 8, 10, 12, 14]


def test_contiguous_topology_makes_the_512_chip_job_wait():
    fr = simulate(tpu_pod("contiguous"), scattered_then_big(), "fifo")
    big = {r.job.id: r for r in fr.sim.runs}["big"]
    assert big.first_start == pytest.approx(1000.007)  # until blocks 1, 3, 5 and 7 free up
    # meanwhile 512 chips sat idle but unusable
    assert fr.result.fragmented_gpu_hours == pytest.approx(512 * (1000 - 20) / 3600, rel=1e-4)


def test_contiguous_topology_starts_when_free_blocks_are_adjacent():
    jobs = [Job(id=f"b{i}", submit_s=i * 1e-3, gpus=64, duration_s=10 if i < 8 else 1000) for i in range(16)]
    jobs.append(Job(id="big", submit_s=20, gpus=512, duration_s=100))
    fr = simulate(tpu_pod("contiguous"), jobs, "fifo")
    assert {r.job.id: r for r in fr.sim.runs}["big"].first_start == 20


def test_a_job_larger_than_a_block_holds_whole_blocks():
    fr = simulate(tpu_pod("reconfigurable"), [Job(id="x", submit_s=0, gpus=100, duration_s=5)], "fifo")
    r = fr.sim.runs[0]
    assert r.held == 128 and len({b for b, _, _ in r.placement}) == 2


def test_blocks_must_divide_the_nodes():
    from flopwise.errors import FlopwiseError

    with pytest.raises(FlopwiseError, match="multiple of topology.block_nodes"):
        cluster_from_dict({"pools": [{"name": "p", "accelerator": "tpu-v4", "nodes": 10, "gpus_per_node": 4,
                                      "topology": {"kind": "contiguous", "block_nodes": 4}}]})


# ---- node packing and fragmentation ------------------------------------------------------------------

def test_nodeset_best_fit_and_multi_node_shapes():
    ns = NodeSet(3, 8)
    assert ns.alloc(3) is not None and ns.free.count(5) == 1
    a = ns.alloc(4)  # best fit: the node with 5 free, not an empty one
    assert ns.free.count(1) == 1 and ns.free.count(8) == 2 and a is not None
    assert ns.can_fit(17) and not ns.can_fit(18)  # 8 + 8 + 1
    assert ns.alloc(12) is not None and sorted(ns.free) == [0, 1, 4]  # one full node + 4 on another
    assert ns.can_fit(4) and not ns.can_fit(5) and ns.free_total == 5


def test_idle_but_unusable_gpus_are_counted_as_fragmentation():
    # 2 nodes x 4 GPUs; two 3-GPU jobs leave 1 free GPU on each node: a 2-GPU job cannot start
    c = cluster_from_dict({"name": "f", "levers": QUIET, "pools": [
        {"name": "g", "accelerator": "a100-sxm4-80gb", "nodes": 2, "gpus_per_node": 4}]})
    jobs = [Job(id="a", submit_s=0, gpus=3, duration_s=100), Job(id="b", submit_s=0, gpus=3, duration_s=100),
            Job(id="c", submit_s=10, gpus=2, duration_s=10)]
    fr = simulate(c, jobs, "fifo")
    assert {r.job.id: r for r in fr.sim.runs}["c"].first_start == 100
    assert fr.result.fragmented_gpu_hours == pytest.approx(2 * 90 / 3600)
    c_any = c.model_copy(update={"pools": [c.pools[0].model_copy(update={"placement": "any"})]})
    fr = simulate(c_any, jobs, "fifo")
    assert {r.job.id: r for r in fr.sim.runs}["c"].first_start == 10  # count-only placement
    assert fr.result.fragmented_gpu_hours == 0


# ---- metrics ------------------------------------------------------------------------------------------

def test_metrics_on_a_known_schedule():
    c = cluster_from_dict({"name": "m", "levers": QUIET, "pools": [
        {"name": "g", "accelerator": "a100-sxm4-80gb", "nodes": 1, "gpus_per_node": 2}]})
    jobs = [Job(id="a", submit_s=0, gpus=2, duration_s=10), Job(id="b", submit_s=0, gpus=1, duration_s=10)]
    r = simulate(c, jobs, "fifo").result
    assert r.avg_jct_s == 15 and r.avg_queue_delay_s == 5 and r.makespan_s == 20
    assert r.utilization == pytest.approx((2 * 10 + 1 * 10) / (2 * 20))
    assert r.groups[0].finish_time_fairness == pytest.approx(1.0)  # one group: its share is the cluster


def test_isolated_slice_is_fifo_with_easy_backfilling():
    import numpy as np

    # 3 GPUs: A (2) runs 0-10; B (3) waits, reserved at 10; C (1 GPU, 5 s) fits before 10: backfilled;
    # D (1 GPU, 50 s) would delay B: waits until B ends at 20
    jct = isolated_jct(np.array([0.0, 1.0, 2.0, 3.0]), np.array([2, 3, 1, 1]), np.array([10.0, 10.0, 5.0, 50.0]), 3)
    assert jct.tolist() == [10.0, 19.0, 5.0, 67.0]


# ---- failures that would restart a job forever ---------------------------------------------------------

def test_a_job_that_failures_restart_forever_is_refused_not_simulated():
    from flopwise.errors import FlopwiseError

    spec = {"pools": [{"name": "a", "accelerator": "h100", "nodes": 8, "gpus_per_node": 8}],
            "levers": {"failure_rate_per_gpu_hour": 0.5, "checkpoint_interval_h": 1}}
    c = cluster_from_dict(spec)
    big = Job(id="big", submit_s=0, gpus=64, duration_s=10 * 3600)
    small = Job(id="small", submit_s=0, gpus=1, duration_s=10 * 3600)
    with pytest.raises(FlopwiseError, match="job big: on 64 GPUs .* restarts"):
        simulate(c, [small, big], "fifo")
    fr = simulate(c, [small], "fifo")  # one GPU fails every 2 h on average: it progresses
    assert fr.result.jobs_completed == 1 and fr.result.failures > 0


def test_failure_model_from_rate_refuses_non_finite_rates():
    from flopwise.catalog.failures import FailureModel
    from flopwise.errors import FlopwiseError

    for bad in (float("inf"), float("nan"), -1.0):
        with pytest.raises(FlopwiseError, match="finite number >= 0 per GPU-hour"):
            FailureModel.from_rate(bad)
    assert FailureModel.from_rate(1e-5).rate_per_gpu_hour == 1e-5


def test_generate_refuses_a_negative_seed():
    from flopwise.errors import FlopwiseError

    with pytest.raises(FlopwiseError, match="seed must be a non-negative integer"):
        generate(load_cluster(EXAMPLE), jobs=5, seed=-1)
