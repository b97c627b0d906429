"""torchtitan: the plan as a TOML job config (torchtitan_job.toml) and a torchrun launcher.

torchtitan's data parallelism is FSDP2 (`data_parallel_shard_degree`), DDP (`..._replicate_degree`) or
both (HSDP). Its tensor parallelism always shards the sequence too, its attention is SDPA (flash), and
it has no optimizer-only sharding (ZeRO-1); plans that need those are refused with the reason.
"""

from __future__ import annotations

from pathlib import Path

from flopwise.errors import FlopwiseError
from flopwise.estimate.training import TrainingJob
from flopwise.export import common as c
from flopwise.plan.parallel import ParallelPlan

NAME = "torchtitan"
LABEL = "torchtitan"
TOML_FILE = "torchtitan_job.toml"
LAUNCH_FILE = "launch_torchtitan.sh"
TORCHTITAN_PIP = "torchtitan==0.1.0"

# torchtitan ships these llama3 flavors; other models need a flavor registered with the same shape
LLAMA3_FLAVORS = {(32, 4096): "8B", (80, 8192): "70B", (126, 16384): "405B"}


def native(plan: ParallelPlan, job: TrainingJob) -> ParallelPlan:
    """The plan as torchtitan spells it; FlopwiseError when torchtitan cannot run it."""
    p = c.in_target_terms(plan, job, LABEL, {"zero3": "fsdp"})
    if p.sharding in ("distributed-optimizer", "zero1"):
        raise FlopwiseError(
            "torchtitan export: torchtitan has no optimizer-only sharding (ZeRO-1 / Megatron's distributed "
            "optimizer); re-plan with --plan sharding=fsdp (or zero2, hsdp, none) or export to megatron"
        )
    if p.sharding == "hsdp":
        shard = c.hsdp_shard(p, job.cluster.fast_domain)
        if p.dp % shard:
            raise FlopwiseError(f"torchtitan export: HSDP shard group {shard} does not divide dp={p.dp}")
        if shard == p.dp:  # one replica: plain FSDP
            p = p.model_copy(update={"sharding": "fsdp"})
        elif shard == 1:  # TP fills the node: shard groups of one rank, i.e. plain replication
            p = p.model_copy(update={"sharding": "none"})
    if p.sharding == "none" and p.dp > 1 and (p.tp > 1 or p.pp > 1 or p.cp > 1):
        raise FlopwiseError(
            "torchtitan export: torchtitan's DDP (sharding=none) does not combine with TP/PP/CP; "
            "re-plan with --plan sharding=fsdp"
        )
    if p.tp > 1 and not p.sequence_parallel:
        raise FlopwiseError("torchtitan export: torchtitan's tensor parallelism always uses sequence parallel; "
                            "re-plan with sp=true")
    if not p.flash_attention:
        raise FlopwiseError("torchtitan export: torchtitan always uses SDPA/flash attention; re-plan with flash=true")
    if p.flash_version == 3:
        raise FlopwiseError("torchtitan export: torchtitan's SDPA attention is planned as FlashAttention-2 class; "
                            "re-plan with flash=2, or export to megatron (--attention-backend fused)")
    if p.recompute == "block":
        raise FlopwiseError("torchtitan export: torchtitan checkpoints every n-th layer, not the first k of each "
                            "stage; re-plan with --plan recompute=full (or none), or export to megatron")
    if p.precision == "fp16":
        raise FlopwiseError("torchtitan export: torchtitan trains in bf16, fp8 (float8 converter) or fp32, not fp16")
    if p.ep_overlap:
        raise FlopwiseError("torchtitan export: torchtitan has no expert all-to-all overlap; re-plan with "
                            "ep_overlap=false, or export to megatron")
    if p.ep > 1:
        shard = _degrees(p, job.cluster.fast_domain)[1]
        if (shard * p.cp) % p.ep:
            raise FlopwiseError(f"torchtitan export: ep={p.ep} must divide data_parallel_shard_degree*cp = {shard * p.cp}")
    return p


def _degrees(p: ParallelPlan, gpus_per_node: int) -> tuple[int, int]:
    """(data_parallel_replicate_degree, data_parallel_shard_degree)."""
    if p.sharding == "none":
        return p.dp, 1
    if p.sharding == "hsdp":
        shard = c.hsdp_shard(p, gpus_per_node)
        return p.dp // shard, shard
    return 1, p.dp


def _flavor(job: TrainingJob) -> tuple[str, str, list[str]]:
    m = job.model
    if m.family == "llama3" and (m.n_layers, m.d_model) in LLAMA3_FLAVORS:
        return "llama3", LLAMA3_FLAVORS[(m.n_layers, m.d_model)], []
    return "llama3", "custom", [
        f"flopwise: torchtitan has no built-in flavor for {m.name}; register a flavor named 'custom' with",
        f"  n_layers={m.n_layers} dim={m.d_model} n_heads={m.n_heads} n_kv_heads={m.kv_heads} "
        f"ffn_hidden={m.ffn_hidden} vocab_size={m.vocab_size}" + (f" experts={m.n_experts}" if m.is_moe else ""),
    ]


def tables(ctx: c.ExportContext) -> tuple[dict[str, dict], dict[str, list[str]]]:
    p, job = ctx.plan, ctx.job
    rep, shard = _degrees(p, job.cluster.fast_domain)
    name, flavor, flavor_note = _flavor(job)
    model: dict = {"name": name, "flavor": flavor, "tokenizer_path": "./assets/tokenizer/original/tokenizer.model"}
    if p.precision == "fp8":
        model["converters"] = ["float8"]
    training = {
        # with PP the whole per-rank batch flows through the pipeline in micro-batches; without PP
        # local_batch_size is the micro-batch and global_batch_size > local*dp accumulates gradients
        "local_batch_size": job.global_batch // p.dp if p.pp > 1 else p.micro_batch,
        "global_batch_size": job.global_batch,
        "seq_len": job.seq_len,
        "steps": ctx.steps,
        "dataset": "c4",
        "mixed_precision_param": "float32" if p.precision == "fp32" else "bfloat16",
        # async TP is a torch.compile pass
        "compile": p.tp_overlap,
    }
    par: dict = {
        "data_parallel_replicate_degree": rep,
        "data_parallel_shard_degree": shard,
        "tensor_parallel_degree": p.tp,
        "pipeline_parallel_degree": p.pp,
        "context_parallel_degree": p.cp,
    }
    if p.tp_overlap:
        par["enable_async_tensor_parallel"] = True
    if shard > 1:
        par["fsdp_reshard_after_forward"] = "never" if p.sharding == "zero2" else "always"
    if p.pp > 1:
        stages = p.pp * p.vpp
        per = job.model.n_layers // stages
        par["pipeline_parallel_schedule"] = "Interleaved1F1B" if p.vpp > 1 else "1F1B"
        par["pipeline_parallel_split_points"] = [f"layers.{k * per}" for k in range(1, stages)]
        par["pipeline_parallel_microbatch_size"] = p.micro_batch
    if job.model.is_moe:
        par["expert_parallel_degree"] = p.ep
    out = {
        "job": {"dump_folder": "./outputs", "description": f"{ctx.est.model} -- flopwise plan {p.label()}"},
        "model": model,
        "training": training,
        "parallelism": par,
        "checkpoint": {"enable_checkpoint": True, "folder": "checkpoint", "interval": ctx.checkpoint_every_steps},
        "activation_checkpoint": {"mode": p.recompute, **({"selective_ac_option": "op"} if p.recompute == "selective" else {})},
    }
    if p.precision == "fp8":
        fsdp = shard > 1
        out["float8"] = {"enable_fsdp_float8_all_gather": fsdp, "precompute_float8_dynamic_scale_for_fsdp": fsdp,
                         "filter_fqns": ["output"]}
    notes = {
        "model": flavor_note,
        "training": ["dataset / tokenizer_path: point these at your data (torchtitan's c4 loader by default)"],
        "parallelism": [f"dp = replicate {rep} x shard {shard} = {p.dp}; sharding {p.sharding}"],
        "checkpoint": [f"every {ctx.checkpoint_every_steps} steps (~{ctx.options.checkpoint_interval_s / 3600:g} h); "
                       "a restarted job resumes from the latest step in dump_folder/checkpoint"],
    }
    return out, notes


def launch_text(ctx: c.ExportContext) -> str:
    return "\n".join([
        "#!/bin/bash",
        *[f"# {h}" for h in ctx.header("torchtitan launcher")],
        f"# needs {TORCHTITAN_PIP} (job config keys checked against {c.version_of('torchtitan')})",
        "# Run the same command on every node (c10d rendezvous): MASTER_ADDR=<first node> bash launch_torchtitan.sh",
        "set -uo pipefail",
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        f"NNODES=${{NNODES:-{ctx.nodes}}}",
        f"GPUS_PER_NODE=${{GPUS_PER_NODE:-{ctx.gpus_per_node}}}",
        'MASTER_ADDR=${MASTER_ADDR:-localhost}',
        'MASTER_PORT=${MASTER_PORT:-29500}',
        'export PYTORCH_CUDA_ALLOC_CONF="expandable_segments:True"',
        'exec torchrun --nnodes "$NNODES" --nproc_per_node "$GPUS_PER_NODE" --rdzv_id "${RDZV_ID:-flopwise}" \\',
        '  --rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT" \\',
        f'  -m torchtitan.train --job.config_file "$HERE/{TOML_FILE}"',
    ]) + "\n"


def write(ctx: c.ExportContext, out_dir: Path) -> list[Path]:
    data, notes = tables(ctx)
    header = ctx.header("torchtitan job config") + [f"keys checked against {c.version_of('torchtitan')}"]
    return [c.write(out_dir / TOML_FILE, c.toml_dumps(data, header, notes)),
            c.write(out_dir / LAUNCH_FILE, launch_text(ctx), executable=True)]


def world(out_dir: Path) -> int:
    return c.launch_world(out_dir / LAUNCH_FILE)


def read(out_dir: Path) -> tuple[ParallelPlan, int]:
    path = out_dir / TOML_FILE
    cfg = c.parse_toml(path)
    par, tr = cfg.get("parallelism", {}), cfg.get("training", {})

    def deg(key: str) -> int:
        return c.as_int(par.get(key, 1), f"parallelism.{key}", path)

    rep, shard = deg("data_parallel_replicate_degree"), deg("data_parallel_shard_degree")
    tp, pp, cp, ep = (deg(k) for k in ("tensor_parallel_degree", "pipeline_parallel_degree",
                                       "context_parallel_degree", "expert_parallel_degree"))
    dp = rep * shard
    if dp == 1 or shard == 1:
        sharding = "none"
    elif rep > 1:
        sharding = "hsdp"
    else:
        sharding = "zero2" if par.get("fsdp_reshard_after_forward") == "never" else "fsdp"
    vpp = 1
    local = c.as_int(tr.get("local_batch_size"), "training.local_batch_size", path)
    if pp > 1:
        stages = len(par.get("pipeline_parallel_split_points", [])) + 1
        if stages % pp:
            raise FlopwiseError(f"{path}: {stages} pipeline stages do not spread evenly over pp={pp} ranks")
        vpp = stages // pp
        mb = c.as_int(par.get("pipeline_parallel_microbatch_size", 1), "parallelism.pipeline_parallel_microbatch_size", path)
        gb = c.as_int(tr.get("global_batch_size"), "training.global_batch_size", path)
        if local * dp != gb:
            raise FlopwiseError(f"{path}: with PP, local_batch_size*dp must equal global_batch_size ({local}*{dp} != {gb})")
        if local % mb:
            raise FlopwiseError(f"{path}: local_batch_size {local} is not a multiple of the micro-batch {mb}")
    else:
        mb = local
    conv = cfg.get("model", {}).get("converters", [])
    precision = "fp8" if "float8" in conv else ("fp32" if tr.get("mixed_precision_param") == "float32" else "bf16")
    mode = cfg.get("activation_checkpoint", {}).get("mode", "selective")
    if mode not in ("none", "selective", "full"):
        raise FlopwiseError(f"{path}: unknown activation_checkpoint.mode {mode!r}")
    async_tp = bool(par.get("enable_async_tensor_parallel")) and tp > 1
    if async_tp and not tr.get("compile"):
        raise FlopwiseError(f"{path}: parallelism.enable_async_tensor_parallel needs training.compile = true")
    plan = ParallelPlan(tp=tp, pp=pp, dp=dp, cp=cp, ep=ep, vpp=vpp, micro_batch=mb, sharding=sharding,
                        recompute=mode, sequence_parallel=tp > 1, tp_overlap=async_tp, precision=precision,
                        flash_attention=True)
    return plan, world(out_dir)


def flag_files(out_dir: Path) -> list[tuple[Path, list[tuple[str, str]]]]:
    return [(out_dir / LAUNCH_FILE, [("torchrun", "flags"), ("torchtitan", "flags")])]


def key_checks(out_dir: Path) -> list[tuple[Path, list[str], list[tuple[str, str]]]]:
    path = out_dir / TOML_FILE
    cfg = c.parse_toml(path)
    names = [f"{t}.{k}" for t, table in cfg.items() for k in table]
    return [(path, names, [("torchtitan", "keys")])]
