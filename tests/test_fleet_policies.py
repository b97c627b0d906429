"""Each fleet policy on small hand-made traces whose right schedule is known by hand."""

from __future__ import annotations

import pytest

from flopwise.fleet.cluster import cluster_from_dict
from flopwise.fleet.jobs import Job
from flopwise.fleet.policies import make_policy, policy_classes
from flopwise.fleet.simulator import simulate

QUIET = {"failure_rate_per_gpu_hour": 0, "checkpoint_interval_s": None, "preemption_cost_s": 0}


def cluster(nodes=1, gpn=4, groups=None, pools=None, **levers):
    pools = pools or [{"name": "gpu", "accelerator": "a100-sxm4-80gb", "nodes": nodes, "gpus_per_node": gpn}]
    return cluster_from_dict({"name": "t", "pools": pools, "groups": groups or [], "levers": {**QUIET, **levers}})


def schedule(c, jobs, policy):
    """{job id: (first start, end)} and the run."""
    fr = simulate(c, jobs, policy)
    return {r.job.id: (r.first_start, r.end) for r in fr.sim.runs}, fr


def J(id, t, gpus, dur, **kw):
    return Job(id=id, submit_s=t, gpus=gpus, duration_s=dur, **kw)


# A holds 2 of 4 GPUs until t=10; B needs all 4; C (1 GPU, 5 s) arrives while B waits.
HOL = [J("A", 0, 2, 10), J("B", 1, 4, 10), J("C", 2, 1, 5)]


def test_registry_has_every_policy():
    assert set(policy_classes()) >= {"fifo", "easy", "sjf", "las", "fairshare", "hetero"}


def test_fifo_is_strict_head_of_line_blocking():
    s, _ = schedule(cluster(), HOL, "fifo")
    assert s == {"A": (0, 10), "B": (10, 20), "C": (20, 25)}


def test_easy_backfills_a_job_that_ends_before_the_reservation():
    jobs = [J("A", 0, 2, 10), J("B", 1, 4, 10), J("C", 2, 1, 5, time_limit_s=6)]
    s, _ = schedule(cluster(), jobs, "easy")
    assert s == {"A": (0, 10), "B": (10, 20), "C": (2, 7)}  # C ends (by its limit) at 8 <= shadow 10


def test_easy_does_not_backfill_a_job_that_would_delay_the_oldest():
    jobs = [J("A", 0, 2, 10, time_limit_s=10), J("B", 1, 4, 10), J("C", 2, 1, 5, time_limit_s=100)]
    s, _ = schedule(cluster(), jobs, "easy")
    assert s == {"A": (0, 10), "B": (10, 20), "C": (20, 25)}  # limit 100 > shadow, no extra GPUs


def test_easy_backfills_into_extra_gpus_the_reserved_job_does_not_need():
    # 8 GPUs: A holds 6 until 10; B needs 4 (shadow 10, extra = 8 - 4 = 4); C (2 GPUs, long) fits in the extra
    jobs = [J("A", 0, 6, 10, time_limit_s=10), J("B", 1, 4, 10), J("C", 2, 2, 50, time_limit_s=50)]
    s, _ = schedule(cluster(nodes=2, gpn=4), jobs, "easy")
    assert s["C"] == (2, 52) and s["B"] == (10, 20)


def test_sjf_runs_the_shortest_first():
    jobs = [J("A", 0, 1, 10), J("L", 1, 1, 30), J("S", 2, 1, 5)]
    s, _ = schedule(cluster(gpn=1), jobs, "sjf")
    assert s == {"A": (0, 10), "S": (10, 15), "L": (15, 45)}
    s, _ = schedule(cluster(gpn=1), jobs, "fifo")
    assert s == {"A": (0, 10), "L": (10, 40), "S": (40, 45)}


def test_sjf_uses_time_limits_as_estimates_when_given():
    jobs = [J("A", 0, 1, 10), J("L", 1, 1, 30, time_limit_s=40), J("S", 2, 1, 5, time_limit_s=3600)]
    s, _ = schedule(cluster(gpn=1), jobs, "sjf")
    assert s["L"] == (10, 40) and s["S"] == (40, 45)  # S asked for an hour: it looks longer


def test_las_preempts_a_job_demoted_past_the_threshold():
    pol = make_policy("las", thresholds_gpu_h=(5 / 3600,))  # demote after 5 GPU-seconds
    jobs = [J("A", 0, 1, 20), J("B", 10, 1, 3)]
    fr = simulate(cluster(gpn=1), jobs, pol)
    runs = {r.job.id: r for r in fr.sim.runs}
    assert (runs["B"].first_start, runs["B"].end) == (10, 13)
    assert runs["A"].end == pytest.approx(23)  # 10 s done, preempted for 3 s, 10 s more
    assert runs["A"].preemptions == 1 and fr.result.preemptions == 1
    assert [s[:2] for s in runs["A"].segments] == [(0, 10), (13, pytest.approx(23))]


def test_las_preemption_costs_restore_time():
    pol = make_policy("las", thresholds_gpu_h=(5 / 3600,))
    c = cluster(gpn=1, preemption_cost_s=4)
    fr = simulate(c, [J("A", 0, 1, 20), J("B", 10, 1, 3)], pol)
    a = fr.sim.runs[0]
    assert a.end == pytest.approx(27) and fr.result.lost_gpu_hours == pytest.approx(4 / 3600)


def test_las_does_not_preempt_equal_priority():
    pol = make_policy("las", thresholds_gpu_h=(100 / 3600,))
    s, fr = schedule(cluster(gpn=1), [J("A", 0, 1, 20), J("B", 10, 1, 3)], pol)
    assert s == {"A": (0, 20), "B": (20, 23)} and fr.result.preemptions == 0


GROUPS = [{"name": "x", "share": 1}, {"name": "y", "share": 1}]
FS_JOBS = [J("x1", 0, 1, 10, group="x"), J("x2", 0.1, 1, 10, group="x"), J("x3", 0.2, 1, 10, group="x"),
           J("x4", 0.3, 1, 10, group="x"), J("y1", 1, 1, 10, group="y")]


def test_fairshare_serves_the_group_with_less_than_its_share():
    s, _ = schedule(cluster(gpn=2, groups=GROUPS), FS_JOBS, "fairshare")
    assert s["y1"] == (10, 20)  # at t=10, x holds 1 GPU and y none: y goes before x4
    assert s["x3"] == (10.1, 20.1) and s["x4"] == (20, 30)
    s, _ = schedule(cluster(gpn=2, groups=GROUPS), FS_JOBS, "fifo")
    assert s["y1"] == (20, 30)


def test_quota_holds_a_group_back_without_blocking_others():
    groups = [{"name": "x", "quota_gpus": 1}, {"name": "y"}]
    jobs = [J("x1", 0, 1, 10, group="x"), J("x2", 0.5, 1, 10, group="x"), J("y1", 1, 1, 10, group="y")]
    for policy in ("fifo", "easy", "sjf", "fairshare"):
        s, _ = schedule(cluster(gpn=2, groups=groups), jobs, policy)
        assert s == {"x1": (0, 10), "x2": (10, 20), "y1": (1, 11)}, policy


def test_job_larger_than_its_quota_is_unschedulable_not_stuck():
    groups = [{"name": "x", "quota_gpus": 1}]
    _, fr = schedule(cluster(gpn=2, groups=groups), [J("big", 0, 2, 5, group="x"), J("ok", 1, 1, 5, group="x")], "fifo")
    assert fr.result.jobs_unschedulable == 1 and fr.result.jobs_completed == 1


def test_hetero_gives_the_fast_pool_to_the_job_that_gains_most():
    pools = [{"name": "fast", "accelerator": "a100-sxm4-80gb", "nodes": 1, "gpus_per_node": 1},
             {"name": "slow", "accelerator": "v100-sxm2-32gb", "nodes": 1, "gpus_per_node": 1}]
    c = cluster(pools=pools)
    jobs = [J("flat", 0, 1, 10, speedups={"fast": 1.1, "slow": 1.0}),  # durations measured on 'fast'
            J("steep", 0, 1, 10, speedups={"fast": 3.0, "slow": 1.0})]  # both waiting at the same instant
    s, fr = schedule(c, jobs, "hetero")
    assert s["steep"] == (0, pytest.approx(10)) and s["flat"] == (0, pytest.approx(11))
    runs = {r.job.id: r for r in fr.sim.runs}
    assert runs["steep"].pool == 0 and runs["flat"].pool == 1
    s, _ = schedule(c, jobs, "fifo")  # pools in listed order: flat takes the fast pool first
    assert s["flat"] == (0, 10) and s["steep"] == (0, pytest.approx(30))


def test_a_job_runs_slower_on_a_slower_pool_by_peak_flops():
    pools = [{"name": "a100", "accelerator": "a100-sxm4-80gb", "nodes": 1, "gpus_per_node": 1},
             {"name": "v100", "accelerator": "v100-sxm2-32gb", "nodes": 1, "gpus_per_node": 1}]
    s, _ = schedule(cluster(pools=pools), [J("a", 0, 1, 100), J("b", 0, 1, 100)], "fifo")
    assert s["b"][1] == pytest.approx(100 * 312 / 125)  # dense bf16 A100 / fp16 V100


def test_time_limit_requeue_checkpoints_and_pays_the_restore():
    c = cluster(gpn=1, max_time_limit_s=10, preemption_cost_s=2)
    _, fr = schedule(c, [J("long", 0, 1, 25)], "fifo")
    r = fr.sim.runs[0]
    assert [(a, b) for a, b, _, _ in r.segments] == [(0, 10), (10, 20), (20, 29)]
    assert r.requeues == 2 and r.end == 29 and fr.result.jobs_completed == 1


def test_time_limit_kill_ends_the_job_as_timeout():
    c = cluster(gpn=1, max_time_limit_s=10, on_time_limit="kill")
    _, fr = schedule(c, [J("long", 0, 1, 25), J("next", 1, 1, 5)], "fifo")
    runs = {r.job.id: r for r in fr.sim.runs}
    assert runs["long"].end == 10 and fr.result.jobs_timeout == 1
    assert runs["next"].first_start == 10


def test_failures_lose_work_since_the_last_checkpoint():
    # the highest failure rate accepted (1 per GPU-hour: 1 GPU fails every ~1 h on average); checkpoints
    # every 18 min, a 6 h job (the times of a 36-per-GPU-hour, 30 s-checkpoint case scaled by 36)
    c = cluster(gpn=1, failure_rate_per_gpu_hour=1, checkpoint_interval_s=1080, preemption_cost_s=36, seed=3)
    _, fr = schedule(c, [J("j", 0, 1, 21600)], "fifo")
    r = fr.sim.runs[0]
    assert r.failures >= 3 and r.state == 3  # completed
    useful = sum(b - a for a, b, _, _ in r.segments) - r.failures * 36  # minus restores
    assert useful >= 21600 - 1e-6  # every second of work was done at least once
    assert r.end > 21600 + 36 * r.failures  # and lost work made it later
