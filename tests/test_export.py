"""Launcher exports: round trips (export -> parse -> same plan), self-validation, refusals, Slurm timing."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib

import pytest
import yaml

from flopwise.catalog.models import get_model
from flopwise.catalog.systems import make_cluster
from flopwise.errors import FlopwiseError
from flopwise.estimate.training import TrainingJob
from flopwise.export import TARGETS, export_plan, native_plan, read_back, validate_export
from flopwise.export import common, slurm
from flopwise.plan.parallel import ParallelPlan
from flopwise.plan.training import plan_training

H100 = make_cluster(gpu="h100-sxm5-80gb")  # nodes of 8
GPUS = 64


@pytest.fixture(scope="module")
def job():
    return TrainingJob(get_model("llama-3-70b"), H100, 512, 8192, "bf16", "adam", 1e12)


@pytest.fixture(scope="module")
def est(job):
    """A real planner estimate (its plan is replaced per test with model_copy)."""
    return plan_training(job, GPUS, 1e12, 2.0)


def with_plan(est, plan, **upd):
    return est.model_copy(update={"plan": plan, **upd})


def files_parse(paths):
    """Every written file parses in its own format (bash checked with `bash -n`)."""
    for p in paths:
        text = p.read_text()
        if p.suffix == ".json":
            json.loads(text)
        elif p.suffix == ".toml":
            tomllib.loads(text)
        elif p.suffix == ".yaml":
            assert isinstance(yaml.safe_load(text), dict)
        elif p.suffix in (".sh", ".sbatch") and shutil.which("bash"):
            res = subprocess.run(["bash", "-n", str(p)], capture_output=True, text=True)
            assert res.returncode == 0, res.stderr


# ---- round trips -----------------------------------------------------------------------------------

ROUND_TRIPS = {
    "megatron": [
        ParallelPlan(tp=4, pp=4, dp=2, cp=2, vpp=2, micro_batch=1, sharding="distributed-optimizer",
                     recompute="none", sequence_parallel=True),
        ParallelPlan(tp=8, pp=8, dp=1, micro_batch=2, sharding="none", recompute="full", sequence_parallel=True),
        ParallelPlan(tp=8, pp=1, dp=8, micro_batch=1, sharding="fsdp", recompute="selective", precision="fp8"),
        ParallelPlan(tp=2, pp=1, dp=32, micro_batch=1, sharding="zero2", recompute="full", sequence_parallel=False),
        ParallelPlan(tp=8, pp=2, dp=4, micro_batch=4, sharding="none", recompute="selective", flash_attention=False),
        ParallelPlan(tp=8, pp=4, dp=2, vpp=2, micro_batch=1, sharding="distributed-optimizer", recompute="block",
                     recompute_layers=3),
        ParallelPlan(tp=8, pp=1, dp=8, micro_batch=1, sharding="distributed-optimizer", recompute="full", tp_overlap=True),
        ParallelPlan(tp=4, pp=2, dp=8, micro_batch=1, sharding="distributed-optimizer", recompute="none", flash_version=3),
    ],
    "torchtitan": [
        ParallelPlan(tp=8, pp=1, dp=8, micro_batch=1, sharding="fsdp", recompute="selective"),
        ParallelPlan(tp=4, pp=4, dp=2, cp=2, vpp=2, micro_batch=1, sharding="fsdp", recompute="none"),
        ParallelPlan(tp=2, pp=1, dp=32, micro_batch=2, sharding="hsdp", recompute="full", precision="fp8"),
        ParallelPlan(tp=8, pp=1, dp=8, micro_batch=1, sharding="zero2", recompute="full", precision="fp32"),
        ParallelPlan(tp=1, pp=1, dp=64, micro_batch=1, sharding="none", recompute="full", sequence_parallel=False),
        ParallelPlan(tp=8, pp=1, dp=8, micro_batch=1, sharding="fsdp", recompute="full", tp_overlap=True),
    ],
    "deepspeed": [
        ParallelPlan(tp=1, pp=1, dp=64, micro_batch=2, sharding="zero3", recompute="full", sequence_parallel=False),
        ParallelPlan(tp=1, pp=1, dp=64, micro_batch=1, sharding="zero1", recompute="none", sequence_parallel=False),
        ParallelPlan(tp=1, pp=1, dp=64, micro_batch=8, sharding="zero2", recompute="none", precision="fp16"),
        ParallelPlan(tp=1, pp=1, dp=64, micro_batch=1, sharding="hsdp", recompute="full", precision="fp32"),
    ],
}
WRAPPED = [(launcher, plan) for launcher in ("megatron", "torchtitan", "deepspeed") for plan in ROUND_TRIPS[launcher][:2]]
CASES = [(t, None, i) for t, plans in ROUND_TRIPS.items() for i in range(len(plans))]
CASES += [(w, launcher, i) for w in ("slurm", "skypilot") for i, (launcher, _) in enumerate(WRAPPED)]


@pytest.mark.parametrize("target,launcher,i", CASES, ids=[f"{t}-{lc or t}-{i}" for t, lc, i in CASES])
def test_round_trip(target, launcher, i, job, est, tmp_path):
    plan = WRAPPED[i][1] if launcher else ROUND_TRIPS[target][i]
    paths = export_plan(target, with_plan(est, plan), job, tmp_path, launcher=launcher)
    assert paths and all(p.exists() for p in paths)
    files_parse(paths)
    back = read_back(target, tmp_path)
    assert back == native_plan(target, plan, job, launcher)
    assert back == common.canonical(plan)  # these plans are already in each target's vocabulary
    assert back.gpus == GPUS
    assert validate_export(target, tmp_path, gpus=GPUS) == back


@pytest.mark.parametrize("target", ["megatron", "slurm", "skypilot"])
def test_round_trip_of_the_planners_choice(target, job, est, tmp_path):
    export_plan(target, est, job, tmp_path)
    assert read_back(target, tmp_path) == native_plan(target, est.plan, job)


def test_aliases_are_renamed_to_the_targets_words(job):
    zero1 = ParallelPlan(tp=8, pp=1, dp=8, sharding="zero1")
    assert native_plan("megatron", zero1, job).sharding == "distributed-optimizer"
    assert native_plan("deepspeed", ParallelPlan(dp=64, sharding="distributed-optimizer", recompute="none"),
                       job).sharding == "zero1"
    assert native_plan("deepspeed", ParallelPlan(dp=64, sharding="fsdp", recompute="full"), job).sharding == "zero3"
    assert native_plan("torchtitan", ParallelPlan(tp=8, dp=8, sharding="zero3"), job).sharding == "fsdp"
    # no-ops are dropped: sequence parallel without TP, sharding without DP
    p = native_plan("megatron", ParallelPlan(tp=1, dp=1, pp=8, sharding="zero1", sequence_parallel=True), job)
    assert (p.sequence_parallel, p.sharding) == (False, "none")
    # HSDP over one node's worth of ranks is plain FSDP
    assert native_plan("torchtitan", ParallelPlan(tp=1, pp=8, dp=8, sharding="hsdp"), job).sharding == "fsdp"
    assert native_plan("torchtitan", ParallelPlan(tp=2, dp=32, sharding="hsdp"), job).sharding == "hsdp"
    # ... and with TP filling the node the shard group is one rank: replication, which torchtitan's DDP
    # cannot combine with TP
    with pytest.raises(FlopwiseError, match="DDP"):
        native_plan("torchtitan", ParallelPlan(tp=8, dp=8, sharding="hsdp"), job)
    with pytest.raises(FlopwiseError, match="FlashAttention-2 class"):
        native_plan("torchtitan", ParallelPlan(tp=8, dp=8, sharding="fsdp", flash_version=3), job)


def test_moe_and_mla_models_export_to_megatron(est, tmp_path):
    mixtral = TrainingJob(get_model("mixtral-8x7b"), H100, 512, 4096, "bf16", "adam", 1e11)
    plan = ParallelPlan(tp=2, pp=2, dp=16, ep=8, micro_batch=1, sharding="distributed-optimizer")
    e = with_plan(est, plan, global_batch=512, seq_len=4096, model="Mixtral 8x7B")
    export_plan("megatron", e, mixtral, tmp_path / "mixtral")
    assert read_back("megatron", tmp_path / "mixtral") == plan
    args = (tmp_path / "mixtral" / "megatron_args.sh").read_text()
    assert "--num-experts 8" in args and "--moe-router-topk 2" in args and "--expert-model-parallel-size 8" in args

    ds = TrainingJob(get_model("deepseek-v3"), H100, 512, 4096, "bf16", "adam", 1e11)
    plan = ParallelPlan(tp=8, pp=1, dp=8, ep=8, micro_batch=1, sharding="distributed-optimizer")
    export_plan("megatron", with_plan(est, plan, global_batch=512, seq_len=4096), ds, tmp_path / "dsv3")
    args = (tmp_path / "dsv3" / "megatron_args.sh").read_text()
    assert "--multi-latent-attention" in args and "--moe-layer-freq '([0]*3+[1]*58)'" in args
    assert read_back("megatron", tmp_path / "dsv3") == plan

    # EP folded over the TP ranks (ep 16 > dp 8) with the all-to-all overlapped: both say so and read back
    plan = ParallelPlan(tp=2, pp=1, dp=32, ep=64, micro_batch=1, sharding="distributed-optimizer", ep_overlap=True)
    export_plan("megatron", with_plan(est, plan, global_batch=512, seq_len=4096), ds, tmp_path / "dsv3b")
    args = (tmp_path / "dsv3b" / "megatron_args.sh").read_text()
    assert "--expert-tensor-parallel-size 1" in args and "--overlap-moe-expert-parallel-comm" in args
    assert read_back("megatron", tmp_path / "dsv3b") == plan
    plain_1f1b = ParallelPlan(tp=2, pp=4, dp=8, ep=8, micro_batch=1, sharding="distributed-optimizer", ep_overlap=True)
    with pytest.raises(FlopwiseError, match="interleaved"):
        export_plan("megatron", with_plan(est, plain_1f1b, global_batch=512, seq_len=4096, model="Mixtral 8x7B"),
                    mixtral, tmp_path / "mixtral-1f1b")


# ---- what each file says -----------------------------------------------------------------------------


def test_megatron_arguments(job, est, tmp_path):
    plan = ROUND_TRIPS["megatron"][0]
    export_plan("megatron", with_plan(est, plan), job, tmp_path)
    text = (tmp_path / "megatron_args.sh").read_text()
    for flag in ("--tensor-model-parallel-size 4", "--pipeline-model-parallel-size 4",
                 "--num-layers-per-virtual-pipeline-stage 10", "--sequence-parallel", "--micro-batch-size 1",
                 "--global-batch-size 512", "--use-distributed-optimizer", "--num-layers 80", "--hidden-size 8192",
                 "--num-query-groups 8", "--swiglu", "--bf16"):
        assert flag in text
    assert "--recompute-granularity" not in text
    launch = (tmp_path / "launch_megatron.sh").read_text()
    assert "NNODES=${NNODES:-8}" in launch and "GPUS_PER_NODE=${GPUS_PER_NODE:-8}" in launch


def test_torchtitan_config(job, est, tmp_path):
    plan = ROUND_TRIPS["torchtitan"][2]  # hsdp + fp8 + full recompute
    export_plan("torchtitan", with_plan(est, plan), job, tmp_path)
    cfg = tomllib.loads((tmp_path / "torchtitan_job.toml").read_text())
    par = cfg["parallelism"]
    assert (par["data_parallel_replicate_degree"], par["data_parallel_shard_degree"]) == (8, 4)
    assert par["tensor_parallel_degree"] == 2 and par["pipeline_parallel_degree"] == 1
    assert cfg["activation_checkpoint"]["mode"] == "full"
    assert cfg["model"]["converters"] == ["float8"] and cfg["model"]["flavor"] == "70B"
    assert cfg["training"]["global_batch_size"] == 512 and cfg["training"]["local_batch_size"] == 2


def test_deepspeed_config(job, est, tmp_path):
    plan = ROUND_TRIPS["deepspeed"][3]  # hsdp -> MiCS
    export_plan("deepspeed", with_plan(est, plan), job, tmp_path)
    cfg = json.loads((tmp_path / "ds_config.json").read_text())
    assert cfg["zero_optimization"]["stage"] == 3 and cfg["zero_optimization"]["mics_shard_size"] == 8
    assert cfg["train_batch_size"] == cfg["train_micro_batch_size_per_gpu"] * cfg["gradient_accumulation_steps"] * 64
    assert "bf16" not in cfg and "fp16" not in cfg  # fp32


def test_skypilot_task(job, est, tmp_path):
    export_plan("skypilot", est, job, tmp_path)
    task = yaml.safe_load((tmp_path / "skypilot_task.yaml").read_text())
    assert task["resources"]["accelerators"] == "H100:8" and task["num_nodes"] == 8
    assert "cloud" not in task["resources"] and "infra" not in task["resources"]  # cheapest cloud wins
    assert "launch_megatron.sh" in task["run"] and "SKYPILOT_NODE_IPS" in task["run"]


# ---- Slurm ---------------------------------------------------------------------------------------------


def sbatch(path):
    return {k: v for k, v in re.findall(r"^#SBATCH (--[\w-]+)=?(\S*)", (path / "job.sbatch").read_text(), re.M)}


def test_slurm_script_short_run(job, est, tmp_path):
    short = with_plan(est, est.plan, train_s=10 * 3600.0)
    export_plan("slurm", short, job, tmp_path)
    o = sbatch(tmp_path)
    assert o["--nodes"] == "8" and o["--gpus-per-node"] == "8" and o["--ntasks-per-node"] == "8"
    # 10 h x 1.15 + 30 min = 12 h
    assert o["--time"] == "0-12:00:00"
    assert o["--signal"] == "B:USR1@600" and "--requeue" in o
    text = (tmp_path / "job.sbatch").read_text()
    assert "trap on_time_limit USR1" in text and "scontrol requeue" in text
    assert "srun --kill-on-bad-exit=1 bash" in text and "launch_megatron.sh" in text


def test_slurm_time_is_capped_and_segments_counted(job, est, tmp_path):
    long = with_plan(est, est.plan, train_s=100 * 3600.0)
    export_plan("slurm", long, job, tmp_path, max_job_hours=48, signal_lead_s=900)
    o = sbatch(tmp_path)
    assert o["--time"] == "2-00:00:00" and o["--signal"] == "B:USR1@900"
    assert "requeued segments" in (tmp_path / "job.sbatch").read_text()
    assert slurm.parse_time("2-00:00:00") == 48 * 3600


def test_slurm_with_torchtitan_runs_one_torchrun_per_node(job, est, tmp_path):
    plan = ROUND_TRIPS["torchtitan"][0]
    export_plan("slurm", with_plan(est, plan), job, tmp_path, launcher="torchtitan", partition="gpu")
    o = sbatch(tmp_path)
    assert o["--ntasks-per-node"] == "1" and o["--partition"] == "gpu"
    assert (tmp_path / "torchtitan_job.toml").exists()


def test_slurm_launcher_is_picked_by_what_the_plan_needs(job, est, tmp_path):
    # torchtitan cannot do ZeRO-1, Megatron can; HSDP with PP: only torchtitan
    assert slurm.pick_launcher(ROUND_TRIPS["megatron"][0], job, None) == "megatron"
    hsdp = ParallelPlan(tp=2, pp=2, dp=16, micro_batch=1, sharding="hsdp")
    assert slurm.pick_launcher(hsdp, job, None) == "torchtitan"


# ---- validation failures ---------------------------------------------------------------------------


def test_degrees_must_multiply_to_the_gpus(job, est, tmp_path):
    bad = ParallelPlan(tp=8, pp=4, dp=4, micro_batch=1)  # 128 GPUs' worth on 64
    with pytest.raises(FlopwiseError, match="do not multiply"):
        export_plan("megatron", with_plan(est, bad), job, tmp_path)


def test_tampered_world_size_is_caught(job, est, tmp_path):
    export_plan("torchtitan", with_plan(est, ROUND_TRIPS["torchtitan"][0]), job, tmp_path)
    launch = tmp_path / "launch_torchtitan.sh"
    launch.write_text(launch.read_text().replace("NNODES=${NNODES:-8}", "NNODES=${NNODES:-4}"))
    with pytest.raises(FlopwiseError, match="tp\\*pp\\*dp\\*cp"):
        validate_export("torchtitan", tmp_path)


def test_slurm_nodes_must_match_the_launcher(job, est, tmp_path):
    export_plan("slurm", est, job, tmp_path)
    p = tmp_path / "job.sbatch"
    p.write_text(p.read_text().replace("--nodes=8", "--nodes=16"))
    with pytest.raises(FlopwiseError, match="set up for 64"):
        validate_export("slurm", tmp_path)


def test_unknown_flag_is_caught_by_the_flag_list(job, est, tmp_path):
    export_plan("megatron", est, job, tmp_path)
    p = tmp_path / "megatron_args.sh"
    p.write_text(p.read_text().replace("  --bf16", "  --bf16\n  --tensor-parallel-size 4"))
    with pytest.raises(FlopwiseError, match="--tensor-parallel-size.*did you mean .*--tensor-model-parallel-size"):
        validate_export("megatron", tmp_path)


def test_unknown_config_keys_are_caught(job, est, tmp_path):
    export_plan("torchtitan", with_plan(est, ROUND_TRIPS["torchtitan"][0]), job, tmp_path / "tt")
    p = tmp_path / "tt" / "torchtitan_job.toml"
    p.write_text(p.read_text().replace("tensor_parallel_degree", "tensor_parallel_size"))
    with pytest.raises(FlopwiseError, match="parallelism.tensor_parallel_size"):
        validate_export("torchtitan", tmp_path / "tt")

    export_plan("deepspeed", with_plan(est, ROUND_TRIPS["deepspeed"][0]), job, tmp_path / "ds")
    p = tmp_path / "ds" / "ds_config.json"
    cfg = json.loads(p.read_text())
    cfg["zero_optimization"]["stage3_magic"] = True
    p.write_text(json.dumps(cfg))
    with pytest.raises(FlopwiseError, match="stage3_magic"):
        validate_export("deepspeed", tmp_path / "ds")

    export_plan("slurm", est, job, tmp_path / "sl")
    p = tmp_path / "sl" / "job.sbatch"
    p.write_text(p.read_text().replace("#SBATCH --requeue", "#SBATCH --requeue\n#SBATCH --gpus-per-nod=8"))
    with pytest.raises(FlopwiseError, match="--gpus-per-nod"):
        validate_export("slurm", tmp_path / "sl")


def test_broken_files_do_not_parse(job, est, tmp_path):
    export_plan("deepspeed", with_plan(est, ROUND_TRIPS["deepspeed"][0]), job, tmp_path)
    (tmp_path / "ds_config.json").write_text("{not json")
    with pytest.raises(FlopwiseError, match="not valid JSON"):
        read_back("deepspeed", tmp_path)


def test_every_registered_name_records_its_version():
    reg = common.registry()
    for target, sec in reg.items():
        assert sec.get("version") and sec.get("source") and sec.get("label"), target
        assert sec.get("flags") or sec.get("keys"), target


# ---- plans a target cannot express, and bad requests ---------------------------------------------


@pytest.mark.parametrize("target,plan,why", [
    ("deepspeed", ParallelPlan(tp=8, pp=1, dp=8), "tp=8"),
    ("deepspeed", ParallelPlan(tp=1, pp=1, dp=64, recompute="selective", sequence_parallel=False), "recompute=full"),
    ("torchtitan", ParallelPlan(tp=8, pp=1, dp=8, sharding="zero1"), "no optimizer-only sharding"),
    ("torchtitan", ParallelPlan(tp=8, pp=1, dp=8, sharding="distributed-optimizer"), "no optimizer-only sharding"),
    ("torchtitan", ParallelPlan(tp=8, pp=1, dp=8, sharding="fsdp", precision="fp16"), "not fp16"),
    ("torchtitan", ParallelPlan(tp=8, pp=1, dp=8, sharding="fsdp", sequence_parallel=False), "sequence parallel"),
    ("megatron", ParallelPlan(tp=2, pp=1, dp=32, sharding="hsdp"), "HSDP"),
    ("torchtitan", ParallelPlan(tp=8, pp=1, dp=8, sharding="fsdp", recompute="block", recompute_layers=2), "n-th layer"),
    ("deepspeed", ParallelPlan(tp=1, pp=1, dp=64, recompute="block", recompute_layers=2, sequence_parallel=False),
     "recompute=full"),
    ("megatron", ParallelPlan(tp=8, pp=2, dp=4, sharding="zero3"), "pipeline"),
])
def test_plans_a_target_cannot_express_are_refused(target, plan, why, job, est, tmp_path):
    with pytest.raises(FlopwiseError, match=why):
        export_plan(target, with_plan(est, plan), job, tmp_path)
    assert not any(tmp_path.iterdir())  # nothing half-written


def test_unknown_target_gets_close_matches(job, est, tmp_path):
    with pytest.raises(FlopwiseError, match="did you mean 'megatron'"):
        export_plan("megatorn", est, job, tmp_path)
    with pytest.raises(FlopwiseError, match="unknown export option"):
        export_plan("megatron", est, job, tmp_path, max_hours=3)
    with pytest.raises(FlopwiseError, match="unknown launcher"):
        export_plan("slurm", est, job, tmp_path, launcher="jax")


def test_an_assumed_mfu_estimate_has_nothing_to_export(job, est, tmp_path):
    with pytest.raises(FlopwiseError, match="no parallel plan"):
        export_plan("slurm", with_plan(est, None), job, tmp_path)


def test_skypilot_needs_a_known_accelerator_name(job, est, tmp_path):
    tpu = TrainingJob(job.model, make_cluster(gpu="tpu-v5p"), 512, 8192, "bf16", "adam", 1e12)
    with pytest.raises(FlopwiseError, match="no SkyPilot accelerator name"):
        export_plan("skypilot", with_plan(est, est.plan, accelerator="tpu-v5p"), tpu, tmp_path)


def test_partial_nodes_are_refused(job, est, tmp_path):
    plan = ParallelPlan(tp=4, pp=1, dp=3, micro_batch=1)
    e = with_plan(est, plan, gpus=12, global_batch=3 * 64)
    j = TrainingJob(job.model, H100, 3 * 64, 8192, "bf16", "adam", 1e12)
    with pytest.raises(FlopwiseError, match="whole nodes"):
        export_plan("megatron", e, j, tmp_path)


def test_targets_are_the_five_of_the_issue():
    assert set(TARGETS) == {"megatron", "torchtitan", "deepspeed", "slurm", "skypilot"}


# ---- the scripts run (with stub torchrun / srun / scancel / scontrol) -------------------------------

needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def stub(bin_dir, name, body):
    p = bin_dir / name
    p.write_text("#!/bin/bash\n" + body + "\n")
    p.chmod(0o755)


@needs_bash
def test_megatron_launcher_passes_the_arguments(job, est, tmp_path):
    out, bin_dir = tmp_path / "out", tmp_path / "bin"
    bin_dir.mkdir()
    export_plan("megatron", with_plan(est, ROUND_TRIPS["megatron"][0]), job, out)
    stub(bin_dir, "torchrun", 'printf "%s\\n" "$@" > "$STUB_LOG"')
    stub(bin_dir, "python", 'printf "%s\\n" "RANK=$RANK" "WORLD_SIZE=$WORLD_SIZE" "$@" > "$STUB_LOG"')
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "MOCK_DATA": "1", "STUB_LOG": str(tmp_path / "log"), "HOME": str(tmp_path)}
    res = subprocess.run(["bash", str(out / "launch_megatron.sh")], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    args = (tmp_path / "log").read_text().split("\n")
    assert args[:2] == ["--nnodes", "8"] and "--tensor-model-parallel-size" in args and "--mock-data" in args
    assert args[args.index("--save") + 1] == str(out / "checkpoints")
    # under Slurm: one task per GPU, no torchrun
    env.update(LAUNCH_MODE="srun", SLURM_PROCID="5", SLURM_LOCALID="5", SLURM_NTASKS="64")
    res = subprocess.run(["bash", str(out / "launch_megatron.sh")], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    args = (tmp_path / "log").read_text().split("\n")
    assert args[:2] == ["RANK=5", "WORLD_SIZE=64"] and args[2].endswith("pretrain_gpt.py")
    # ... and a task count that does not match the plan stops before training
    env.update(SLURM_NTASKS="32")
    res = subprocess.run(["bash", str(out / "launch_megatron.sh")], env=env, capture_output=True, text=True)
    assert res.returncode == 2 and "needs 64 tasks" in res.stderr


@needs_bash
def test_sbatch_checkpoints_and_requeues_on_the_time_limit_signal(job, est, tmp_path):
    out, bin_dir = tmp_path / "out", tmp_path / "bin"
    bin_dir.mkdir()
    export_plan("slurm", est, job, out)
    log = tmp_path / "log"
    stub(bin_dir, "srun", f'trap "kill \\$SLEEP; echo trainer-stopped >> {log}; exit 0" TERM; '
                          f'sleep 30 & SLEEP=$!; echo $$ > "{tmp_path}/srun.pid"; wait')
    stub(bin_dir, "scancel", f'echo "scancel $*" >> {log}; kill -TERM $(cat "{tmp_path}/srun.pid")')
    stub(bin_dir, "scontrol", f'if [[ $1 == show ]]; then echo node-a; else echo "scontrol $*" >> {log}; fi')
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SLURM_JOB_ID": "42", "SLURM_JOB_NODELIST": "node-a",
           "SLURM_SUBMIT_DIR": str(out)}
    proc = subprocess.Popen(["bash", str(out / "job.sbatch")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    import os
    import signal
    import time

    for _ in range(100):  # wait for the (stub) trainers to start
        if (tmp_path / "srun.pid").exists():
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGUSR1)  # what --signal=B:USR1@600 does
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert log.read_text().split("\n")[:3] == ["scancel --signal=TERM 42", "trainer-stopped", "scontrol requeue 42"]


@needs_bash
def test_sbatch_passes_the_trainers_exit_status_and_does_not_requeue(job, est, tmp_path):
    out, bin_dir = tmp_path / "out", tmp_path / "bin"
    bin_dir.mkdir()
    export_plan("slurm", est, job, out)
    log = tmp_path / "log"
    stub(bin_dir, "srun", "exit 3")
    stub(bin_dir, "scontrol", f'if [[ $1 == show ]]; then echo node-a; else echo "scontrol $*" >> {log}; fi')
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "SLURM_JOB_ID": "42", "SLURM_JOB_NODELIST": "node-a",
           "SLURM_SUBMIT_DIR": str(out)}
    res = subprocess.run(["bash", str(out / "job.sbatch")], env=env, capture_output=True, text=True, timeout=20)
    assert res.returncode == 3 and not log.exists()


def test_cli_train_export_slurm_round_trip(tmp_path, cli):
    import json as _json

    from flopwise.export import read_back

    out = cli("train", "llama-3-70b", "--tokens", "2e12", "--gpu", "h100-sxm5-80gb", "--gpus", "64",
              "--global-batch", "512", "--seq-len", "8192", "--export", "slurm", "--launcher", "megatron",
              "--out", str(tmp_path), "--json", check=True)
    d = _json.loads(out.stdout)
    assert any(f.endswith("job.sbatch") for f in d["export"]["files"])
    back = read_back("slurm", tmp_path)
    assert (back.tp, back.pp, back.dp) == (d["plan"]["tp"], d["plan"]["pp"], d["plan"]["dp"])
    bad = cli("train", "llama-3-70b", "--tokens", "2e12", "--gpu", "h100-sxm5-80gb", "--gpus", "64",
              "--export", "slurmm", "--out", str(tmp_path / "x"))
    assert bad.returncode == 2 and "slurm" in bad.stderr
