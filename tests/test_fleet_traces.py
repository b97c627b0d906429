"""Trace readers on small files written here in each real format (Helios, Acme, Philly, Alibaba PAI),
the synthetic generator's distributions, and planner speedups."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from flopwise.errors import FlopwiseError
from flopwise.fleet.cluster import cluster_from_dict, load_cluster
from flopwise.fleet.jobs import Job
from flopwise.fleet.simulator import simulate
from flopwise.fleet.speedups import SpeedTable
from flopwise.fleet.synthetic import GPU_MIX, effective_gpus, generate
from flopwise.fleet.traces import detect_format, read_trace, write_trace

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "fleet" / "university.yaml"

HELIOS = """job_id,user,vc,jobname,gpu_num,cpu_num,node_num,state,submit_time,start_time,end_time,duration,queue
100,u1,vcA,a,8,32,1,COMPLETED,2020-04-01 00:00:00,2020-04-01 00:00:05,2020-04-01 01:00:05,3600,5
101,u2,vcB,b,0,4,1,COMPLETED,2020-04-01 00:01:00,2020-04-01 00:01:00,2020-04-01 00:02:00,60,0
102,u1,vcA,c,1,4,1,TIMEOUT,2020-04-01 00:10:00,2020-04-01 00:10:00,2020-04-01 02:10:00,7200,0
103,u3,vcB,d,16,64,2,FAILED,2020-04-01 00:20:00,2020-04-01 00:25:00,2020-04-01 00:35:00,600,300
"""

ACME = """job_id,user,node_num,gpu_num,cpu_num,type,state,submit_time,start_time,end_time,duration,queue,gpu_time
5778432,u5907,1,8,128,Other,FAILED,2023-03-01 00:18:22+08:00,2023-03-01 00:18:54+08:00,2023-03-01 00:20:51+08:00,117,32,936.0
5778469,u5907,1,8,128,Other,COMPLETED,2023-03-01 00:23:58+08:00,2023-03-01 00:24:11+08:00,2023-03-01 01:09:04+08:00,2693,13,21544.0
5778470,u6000,4,32,512,Pretrain,TIMEOUT,2023-03-01 01:00:00+08:00,2023-03-01 01:00:10+08:00,2023-03-01 03:00:10+08:00,7200,10,230400.0
5778471,u6000,0,0,16,Debug,COMPLETED,2023-03-01 01:00:00+08:00,2023-03-01 01:00:00+08:00,2023-03-01 01:01:00+08:00,60,0,0
"""

PHILLY = [
    {"status": "Pass", "vc": "ee9e8c", "jobid": "application_1", "user": "ce2f4c", "submitted_time": "2017-10-07 01:11:39",
     "attempts": [{"start_time": "2017-10-07 01:12:09", "end_time": "2017-10-07 01:13:23",
                   "detail": [{"ip": "m47", "gpus": [f"gpu{i}" for i in range(8)]}]},
                  {"start_time": "2017-10-07 01:13:30", "end_time": "2017-10-07 02:13:30",
                   "detail": [{"ip": "m412", "gpus": [f"gpu{i}" for i in range(8)]},
                              {"ip": "m413", "gpus": ["gpu0", "gpu1"]}]}]},
    {"status": "Killed", "vc": "11cb48", "jobid": "application_2", "user": "aa", "submitted_time": "2017-10-07 01:20:00",
     "attempts": [{"start_time": "2017-10-07 01:21:00", "end_time": "None", "detail": [{"ip": "m1", "gpus": ["gpu0"]}]}]},
    {"status": "Failed", "vc": "11cb48", "jobid": "application_3", "user": "bb", "submitted_time": "2017-10-07 01:30:00",
     "attempts": []},
    {"status": "Pass", "vc": "11cb48", "jobid": "application_4", "user": "bb", "submitted_time": "2017-10-07 01:40:00",
     "attempts": [{"start_time": "2017-10-07 01:41:00", "end_time": "2017-10-07 01:51:00",
                   "detail": [{"ip": "m2", "gpus": ["gpu0", "gpu1"]}]}]},
]

# the released PAI tables have no header row
PAI_TASKS = """4f057009a5d481acec67b088,tensorflow,1.0,Terminated,1739162.0,1739200.0,600.0,29.296875,50.0,MISC
aa11,worker,2.0,Terminated,1000.0,4600.0,400.0,10.0,100.0,V100
aa11,ps,1.0,Terminated,1000.0,4600.0,600.0,10.0,0.0,MISC
bb22,worker,4.0,Terminated,2000.0,2500.0,400.0,10.0,200.0,T4
cc33,worker,1.0,Failed,,,400.0,10.0,100.0,P100
dd44,evaluator,1.0,Terminated,3000.0,3100.0,400.0,10.0,0.0,MISC
"""
PAI_JOBS = """4f057009a5d481acec67b088,i1,user1,Terminated,1739100.0,1739200.0
aa11,i2,user2,Terminated,990.0,4600.0
bb22,i3,user2,Terminated,1999.0,2500.0
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_helios_reads_gpu_jobs_with_vc_groups_and_timeouts(tmp_path):
    p = write(tmp_path, "cluster_log.csv", HELIOS)
    assert detect_format(p) == "helios"
    jobs = read_trace(p)
    assert [j.id for j in jobs] == ["100", "102", "103"]  # the CPU job is skipped
    assert [j.submit_s for j in jobs] == [0, 600, 1200]
    assert [j.gpus for j in jobs] == [8, 1, 16] and [j.duration_s for j in jobs] == [3600, 7200, 600]
    assert [j.group for j in jobs] == ["vcA", "vcA", "vcB"]
    assert jobs[1].time_limit_s == 7200 and jobs[0].time_limit_s is None  # TIMEOUT: ran to its limit
    assert jobs[1].trace_state == "TIMEOUT"


def test_acme_reads_timezone_times_and_groups_by_user(tmp_path):
    p = write(tmp_path, "trace_seren.csv", ACME)
    assert detect_format(p) == "acme"
    jobs = read_trace(p)
    assert len(jobs) == 3 and [j.gpus for j in jobs] == [8, 8, 32]
    assert [j.submit_s for j in jobs] == [0, 336, 2498]
    assert {j.group for j in jobs} == {"u5907", "u6000"} and jobs[2].time_limit_s == 7200


def test_philly_reads_attempts_and_skips_incomplete_jobs(tmp_path):
    p = write(tmp_path, "cluster_job_log", json.dumps(PHILLY))
    assert detect_format(p) == "philly"
    jobs = read_trace(p)
    assert [j.id for j in jobs] == ["application_1", "application_4"]
    j = jobs[0]
    assert j.gpus == 10 and j.duration_s == 74 + 3600 and j.group == "ee9e8c"  # largest attempt; summed run time
    assert jobs[1].submit_s == 28 * 60 + 21 and jobs[1].gpus == 2


def test_pai_reads_task_and_job_tables(tmp_path):
    write(tmp_path, "pai_task_table.csv", PAI_TASKS)
    write(tmp_path, "pai_job_table.csv", PAI_JOBS)
    assert detect_format(tmp_path) == "pai"
    jobs = {j.id: j for j in read_trace(tmp_path)}
    assert set(jobs) == {"4f057009a5d481acec67b088", "aa11", "bb22"}  # no times / no GPUs: skipped
    assert jobs["aa11"].gpus == 2 and jobs["aa11"].duration_s == 3600 and jobs["aa11"].gpu_type == "V100"
    assert jobs["bb22"].gpus == 8 and jobs["bb22"].user == "user2" and jobs["bb22"].gpu_type == "T4"
    assert jobs["4f057009a5d481acec67b088"].gpus == 1 and jobs["4f057009a5d481acec67b088"].gpu_type is None  # 50%
    assert jobs["aa11"].submit_s == 0 and jobs["bb22"].submit_s == 1009  # from the job table, shifted
    # the task table alone: submit = first task start
    alone = tmp_path / "only"
    alone.mkdir()
    write(alone, "pai_task_table.csv", PAI_TASKS)
    assert {j.id: j.submit_s for j in read_trace(alone / "pai_task_table.csv")}["bb22"] == 1000


def test_pai_gpu_types_set_the_reference_accelerator():
    c = cluster_from_dict({"pools": [{"name": "a", "accelerator": "a100-sxm4-80gb", "nodes": 1, "gpus_per_node": 8}]})
    t = SpeedTable(c)
    assert t.reference_accelerator("V100") == "v100-sxm2-16gb" and t.reference_accelerator("MISC") == "a100-sxm4-80gb"
    assert t.speeds(Job(id="x", submit_s=0, gpus=1, duration_s=1, gpu_type="V100"))[0] == pytest.approx(312 / 125)


def test_flopwise_csv_round_trip(tmp_path):
    jobs = [Job(id="a", submit_s=0, gpus=2, duration_s=10.5, group="g", user="u", time_limit_s=3600,
                model="gpt3-125m", speedups={"a100": 2.5, "v100": 1}),
            Job(id="b", submit_s=5, gpus=1, duration_s=3, require_type="v100")]
    p = tmp_path / "jobs.csv"
    write_trace(jobs, p)
    assert detect_format(p) == "flopwise"
    back = read_trace(p)
    assert back == jobs


def test_real_trace_runs_through_the_simulator(tmp_path):
    p = write(tmp_path, "cluster_log.csv", HELIOS)
    r = simulate(load_cluster(EXAMPLE), read_trace(p), "easy").result
    assert r.jobs_completed + r.jobs_timeout == 3


@pytest.mark.parametrize("text, fmt, msg", [
    ("job_id,gpu_num\n1,2\n", "auto", "needs columns"),
    ("a,b\n1,2\n", "auto", "cannot tell the format"),
    ("job_id,submit_s,gpus,duration_s\nx,0,1.5,10\n", "auto", "positive integer"),
    ("job_id,submit_s,gpus,duration_s\nx,0,2,10\n", "slurm", "unknown trace format"),
    ("[{]", "philly", "not valid JSON"),
])
def test_bad_traces_are_one_clear_error(tmp_path, text, fmt, msg):
    p = write(tmp_path, "t.csv", text)
    with pytest.raises(FlopwiseError, match=msg):
        read_trace(p, fmt)


def test_missing_trace_file(tmp_path):
    with pytest.raises(FlopwiseError, match="does not exist"):
        read_trace(tmp_path / "nope.csv")


# ---- the synthetic generator --------------------------------------------------------------------------

def test_synthetic_follows_its_documented_distributions():
    c = load_cluster(EXAMPLE)
    jobs = generate(c, jobs=20_000, load=0.7, seed=11, diurnal_amplitude=0.0)
    gpus = np.array([j.gpus for j in jobs])
    dur = np.array([j.duration_s for j in jobs])
    sub = np.array([j.submit_s for j in jobs])
    for g, p in GPU_MIX.items():
        assert abs((gpus == g).mean() - p) < 0.015, g
    assert np.median(dur) == pytest.approx(1800, rel=0.05)
    assert np.log(np.percentile(dur, 84.13) / np.median(dur)) == pytest.approx(1.8, rel=0.05)  # sigma
    offered = (gpus * dur).sum() / (sub[-1] - sub[0])
    assert offered / effective_gpus(c) == pytest.approx(0.7, rel=0.05)
    inter = np.diff(sub)
    assert np.std(inter) / np.mean(inter) == pytest.approx(1.0, rel=0.05)  # exponential gaps: Poisson
    lim = np.array([j.time_limit_s for j in jobs])
    assert (lim % 3600 == 0).all() and (lim >= np.minimum(dur, 72 * 3600) - 1e-6).all() and lim.max() <= 72 * 3600
    assert {j.group for j in jobs} == {"nlp", "vision", "robotics", "bio"}
    nlp = sum(j.group == "nlp" for j in jobs) / len(jobs)
    assert nlp == pytest.approx(3 / 7, abs=0.02)  # by share
    named = [j for j in jobs if j.model]
    assert 0.45 < len(named) / len(jobs) < 0.55


def test_synthetic_diurnal_arrivals_peak_by_day():
    c = load_cluster(EXAMPLE)
    jobs = generate(c, jobs=20_000, seed=1, diurnal_amplitude=0.5)
    phase = np.array([j.submit_s for j in jobs]) % 86400
    by_day = ((phase > 0) & (phase < 43200)).mean()  # sin > 0 in the first half day
    assert by_day == pytest.approx(0.5 + 0.5 / np.pi, abs=0.02)  # 1/2 + a/π with a = 0.5


def test_planner_speedups_and_memory_limits():
    c = load_cluster(EXAMPLE)
    t = SpeedTable(c)
    s = t.speeds(Job(id="x", submit_s=0, gpus=8, duration_s=1, model="gpt3-1.3b"))
    assert s[0] == 1.0 and 0.25 < s[1] < 0.6 and 0.3 < s[2] < 0.8  # V100 and RTX 4090 slower than A100
    s = t.speeds(Job(id="y", submit_s=0, gpus=2, duration_s=1, model="llama-2-7b"))
    assert s[0] == 1.0 and s[1] == s[2] == 0.0  # 7B on 2 GPUs fits only in 80 GB: the job avoids the others
    s = t.speeds(Job(id="z", submit_s=0, gpus=1, duration_s=1, model="llama-2-7b"))
    assert s == (0.0, 0.0, 0.0)  # 7B training on one GPU of any kind does not fit: unschedulable
    fr = simulate(c, [Job(id="z", submit_s=0, gpus=1, duration_s=1, model="llama-2-7b")], "fifo")
    assert fr.result.jobs_unschedulable == 1
