"""DeepSpeed: the plan as a ds_config.json (ZeRO stage, batch, precision) and a torchrun launcher.

A ds_config carries data-parallel training only: tensor, pipeline, sequence and expert parallelism are
set up by the model code (Megatron-DeepSpeed, PipelineModule, ...), so plans that use them are refused.
HSDP maps to MiCS (ZeRO-3 sharded inside groups of `mics_shard_size`, replicated across them).
"""

from __future__ import annotations

import json
from pathlib import Path

from flopwise.errors import FlopwiseError
from flopwise.estimate.training import TrainingJob
from flopwise.export import common as c
from flopwise.plan.parallel import ParallelPlan

NAME = "deepspeed"
LABEL = "DeepSpeed"
CONFIG_FILE = "ds_config.json"
LAUNCH_FILE = "launch_deepspeed.sh"

STAGE = {"none": 0, "zero1": 1, "zero2": 2, "zero3": 3, "hsdp": 3}
STAGE_READ = {0: "none", 1: "zero1", 2: "zero2", 3: "zero3"}


def native(plan: ParallelPlan, job: TrainingJob) -> ParallelPlan:
    """The plan as DeepSpeed spells it; FlopwiseError when a ds_config cannot express it."""
    p = c.in_target_terms(plan, job, LABEL, {"distributed-optimizer": "zero1", "fsdp": "zero3"})
    for deg, what in ((p.tp, "tp"), (p.pp, "pp"), (p.cp, "cp"), (p.ep, "ep")):
        if deg > 1:
            raise FlopwiseError(
                f"DeepSpeed export: {what}={deg} is not a ds_config setting (the model code sets it up); "
                "export to megatron or torchtitan, or re-plan with --plan tp=1,pp=1 (data parallel + ZeRO only)"
            )
    if p.precision == "fp8":
        raise FlopwiseError("DeepSpeed export: fp8 is not a ds_config setting (Transformer Engine in the model code)")
    if p.recompute in ("selective", "block"):
        raise FlopwiseError(f"DeepSpeed export: recompute={p.recompute} is not a ds_config setting (the model code "
                            "checkpoints layers); re-plan with --plan recompute=full or none")
    if not p.flash_attention:
        raise FlopwiseError("DeepSpeed export: the attention kernel is chosen by the model code; flopwise assumes "
                            "flash attention there, re-plan with flash=true")
    if p.sharding == "hsdp":
        shard = c.hsdp_shard(p, job.cluster.fast_domain)
        if p.dp % shard:
            raise FlopwiseError(f"DeepSpeed export: MiCS shard group {shard} does not divide dp={p.dp}")
        if shard == p.dp:
            p = p.model_copy(update={"sharding": "zero3"})
        elif shard == 1:
            p = p.model_copy(update={"sharding": "none"})
    return p


def config(ctx: c.ExportContext) -> dict:
    p, job = ctx.plan, ctx.job
    gas = job.global_batch // (p.dp * p.micro_batch)
    zero: dict = {"stage": STAGE[p.sharding], "overlap_comm": True, "contiguous_gradients": True}
    if p.sharding == "hsdp":
        zero["mics_shard_size"] = c.hsdp_shard(p, job.cluster.fast_domain)
        zero["mics_hierarchical_params_gather"] = False
    cfg: dict = {
        "train_batch_size": job.global_batch,
        "train_micro_batch_size_per_gpu": p.micro_batch,
        "gradient_accumulation_steps": gas,
        "gradient_clipping": 1.0,
        "steps_per_print": 10,
        "zero_optimization": zero,
    }
    if p.precision == "bf16":
        cfg["bf16"] = {"enabled": True}
    elif p.precision == "fp16":
        cfg["fp16"] = {"enabled": True, "loss_scale": 0, "initial_scale_power": 16}
    if p.recompute == "full":
        cfg["activation_checkpointing"] = {"partition_activations": False, "contiguous_memory_optimization": False,
                                           "cpu_checkpointing": False}
    cfg["wall_clock_breakdown"] = False
    return cfg


def launch_text(ctx: c.ExportContext) -> str:
    p = ctx.plan
    rec = (["# recompute=full: your model must checkpoint every layer (deepspeed.checkpointing.checkpoint, or",
            "# model.gradient_checkpointing_enable() for Hugging Face models); ds_config only configures it."]
           if p.recompute == "full" else [])
    return "\n".join([
        "#!/bin/bash",
        *[f"# {h}" for h in ctx.header("DeepSpeed launcher")],
        f"# ds_config keys checked against {c.version_of('deepspeed')}",
        "# TRAIN_SCRIPT is your training script; it must call deepspeed.add_config_arguments(parser) and",
        "# deepspeed.initialize(args=args, ...). Run on every node: MASTER_ADDR=<first node> bash launch_deepspeed.sh",
        *rec,
        "set -uo pipefail",
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        f"NNODES=${{NNODES:-{ctx.nodes}}}",
        f"GPUS_PER_NODE=${{GPUS_PER_NODE:-{ctx.gpus_per_node}}}",
        'MASTER_ADDR=${MASTER_ADDR:-localhost}',
        'MASTER_PORT=${MASTER_PORT:-29500}',
        'exec torchrun --nnodes "$NNODES" --nproc_per_node "$GPUS_PER_NODE" --rdzv_id "${RDZV_ID:-flopwise}" \\',
        '  --rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT" \\',
        '  "${TRAIN_SCRIPT:?set TRAIN_SCRIPT to your DeepSpeed training script}" \\',
        f'  --deepspeed --deepspeed_config "$HERE/{CONFIG_FILE}" ${{TRAIN_ARGS:-}}',
    ]) + "\n"


def write(ctx: c.ExportContext, out_dir: Path) -> list[Path]:
    return [c.write(out_dir / CONFIG_FILE, json.dumps(config(ctx), indent=2) + "\n"),
            c.write(out_dir / LAUNCH_FILE, launch_text(ctx), executable=True)]


def world(out_dir: Path) -> int:
    return c.launch_world(out_dir / LAUNCH_FILE)


def read(out_dir: Path) -> tuple[ParallelPlan, int]:
    path = out_dir / CONFIG_FILE
    cfg = c.parse_json(path)
    gb = c.as_int(cfg.get("train_batch_size"), "train_batch_size", path)
    mb = c.as_int(cfg.get("train_micro_batch_size_per_gpu"), "train_micro_batch_size_per_gpu", path)
    gas = c.as_int(cfg.get("gradient_accumulation_steps"), "gradient_accumulation_steps", path)
    if gb % (mb * gas):
        raise FlopwiseError(f"{path}: train_batch_size {gb} is not micro-batch {mb} x accumulation {gas} x GPUs")
    dp = gb // (mb * gas)
    zero = cfg.get("zero_optimization", {})
    stage = zero.get("stage", 0)
    if stage not in STAGE_READ:
        raise FlopwiseError(f"{path}: zero_optimization.stage must be 0-3, got {stage!r}")
    sharding = STAGE_READ[stage]
    mics = zero.get("mics_shard_size", -1)
    if stage == 3 and isinstance(mics, int) and 0 < mics < dp:
        sharding = "hsdp"
    if dp == 1:
        sharding = "none"
    if cfg.get("bf16", {}).get("enabled"):
        precision = "bf16"
    elif cfg.get("fp16", {}).get("enabled"):
        precision = "fp16"
    else:
        precision = "fp32"
    plan = ParallelPlan(tp=1, pp=1, dp=dp, cp=1, ep=1, vpp=1, micro_batch=mb, sharding=sharding,
                        recompute="full" if "activation_checkpointing" in cfg else "none",
                        sequence_parallel=False, precision=precision, flash_attention=True)
    return plan, world(out_dir)


def flag_files(out_dir: Path) -> list[tuple[Path, list[tuple[str, str]]]]:
    return [(out_dir / LAUNCH_FILE, [("torchrun", "flags"), ("deepspeed", "flags")])]


def key_checks(out_dir: Path) -> list[tuple[Path, list[str], list[tuple[str, str]]]]:
    path = out_dir / CONFIG_FILE
    return [(path, c.key_paths(c.parse_json(path)), [("deepspeed", "keys")])]
