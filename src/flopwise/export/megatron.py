"""Megatron-LM: the plan as `pretrain_gpt.py` arguments (megatron_args.sh) and a launcher (launch_megatron.sh).

Megatron derives the data-parallel size from the world size: dp = GPUs / (tp * pp * cp). The world size
lives in the launcher (NNODES x GPUS_PER_NODE), so the two files are read back together.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from flopwise.errors import FlopwiseError
from flopwise.estimate.training import TrainingJob
from flopwise.export import common as c
from flopwise.plan.parallel import ParallelPlan

NAME = "megatron"
LABEL = "Megatron-LM"
ARGS_FILE = "megatron_args.sh"
LAUNCH_FILE = "launch_megatron.sh"

# flopwise sharding -> Megatron-FSDP --data-parallel-sharding-strategy
FSDP_STRATEGY = {"zero2": "optim_grads", "fsdp": "optim_grads_params"}
FSDP_READ = {"no_shard": "none", "optim": "distributed-optimizer", "optim_grads": "zero2",
             "optim_grads_params": "fsdp"}
FLASH_BACKENDS = {"flash", "fused", "auto"}  # fused = cuDNN fused attention, also memory-efficient
# "fused" (Transformer Engine's cuDNN attention) is FlashAttention-3 class on Hopper; "flash" is FA2


def native(plan: ParallelPlan, job: TrainingJob) -> ParallelPlan:
    """The plan as Megatron-LM spells it; FlopwiseError when Megatron-LM cannot run it."""
    p = c.in_target_terms(plan, job, LABEL, {"zero1": "distributed-optimizer", "zero3": "fsdp"})
    if p.sharding == "hsdp":
        raise FlopwiseError(
            "Megatron-LM export: HSDP is not mapped to Megatron-LM flags; export to torchtitan or deepspeed, "
            "or re-plan with --plan sharding=fsdp (or distributed-optimizer)"
        )
    if p.sharding in FSDP_STRATEGY and p.pp > 1:
        raise FlopwiseError(
            f"Megatron-LM export: Megatron-FSDP ({p.sharding}) is not combined with pipeline parallelism; "
            "re-plan with --plan sharding=distributed-optimizer"
        )
    if p.cp > 1 and job.seq_len % (2 * p.cp):
        raise FlopwiseError(f"Megatron-LM export: seq-length {job.seq_len} must be a multiple of 2*cp = {2 * p.cp}")
    if p.ep > 1 and p.precision == "fp16":
        raise FlopwiseError("Megatron-LM export: expert parallelism is not supported with fp16; use bf16")
    if p.recompute == "block" and p.recompute_layers is None:
        raise FlopwiseError("Megatron-LM export: recompute=block needs a layer count; give --plan recompute_layers=K")
    if p.ep_overlap and p.pp > 1 and p.vpp == 1:
        raise FlopwiseError("Megatron-LM export: --overlap-moe-expert-parallel-comm runs with pp=1 or an interleaved "
                            "pipeline; re-plan with vpp > 1 (or pp=1)")
    return p


# ---- writing --------------------------------------------------------------------------------------


def build_args(ctx: c.ExportContext) -> list[tuple[str, list[str]]]:
    """(section comment, tokens) pairs; tokens are already shell-quoted."""
    p, job, m = ctx.plan, ctx.job, ctx.job.model
    q = shlex.quote
    out: list[tuple[str, list[str]]] = []

    par = ["--tensor-model-parallel-size", str(p.tp), "--pipeline-model-parallel-size", str(p.pp),
           "--context-parallel-size", str(p.cp)]
    if p.vpp > 1:
        par += ["--num-layers-per-virtual-pipeline-stage", str(m.n_layers // (p.pp * p.vpp))]
    if m.is_moe:
        par += ["--expert-model-parallel-size", str(p.ep)]
        if p.ep > 1:  # experts whole on each rank, EP folded over tp·cp·dp (as flopwise plans it)
            par += ["--expert-tensor-parallel-size", "1"]
    if p.sequence_parallel:
        par += ["--sequence-parallel"]
    if p.tp_overlap:
        par += ["--tp-comm-overlap"]
    if p.ep_overlap:
        par += ["--overlap-moe-expert-parallel-comm", "--delay-wgrad-compute"]
    out.append((f"parallelism (data parallel = GPUs / (tp*pp*cp) = {p.dp})", par))

    batch = ["--micro-batch-size", str(p.micro_batch), "--global-batch-size", str(job.global_batch),
             "--seq-length", str(job.seq_len), "--train-iters", str(ctx.steps)]
    out.append((f"batch: {job.global_batch // (p.dp * p.micro_batch)} micro-batches per step per pipeline", batch))

    shard: list[str] = []
    if p.sharding == "distributed-optimizer":
        shard = ["--use-distributed-optimizer"]
    elif p.sharding in FSDP_STRATEGY:
        shard = ["--use-megatron-fsdp", "--data-parallel-sharding-strategy", FSDP_STRATEGY[p.sharding],
                 "--no-gradient-accumulation-fusion", "--use-distributed-optimizer"]
    if p.dp > 1:
        shard += ["--overlap-grad-reduce"]
        if p.sharding != "none":
            shard += ["--overlap-param-gather"]
    out.append((f"data-parallel sharding: {p.sharding}", shard))

    if p.recompute == "selective":
        out.append(("activation recomputation: selective (core attention)", ["--recompute-granularity", "selective"]))
    elif p.recompute == "full":
        out.append(("activation recomputation: full, every layer",
                    ["--recompute-granularity", "full", "--recompute-method", "uniform", "--recompute-num-layers", "1"]))
    elif p.recompute == "block":
        out.append((f"activation recomputation: full, first {p.recompute_layers} layers of each model chunk",
                    ["--recompute-granularity", "full", "--recompute-method", "block",
                     "--recompute-num-layers", str(p.recompute_layers)]))

    prec = {"bf16": ["--bf16"], "fp16": ["--fp16"], "fp8": ["--bf16", "--fp8-format", "hybrid"], "fp32": []}[p.precision]
    backend = ("fused" if p.flash_version == 3 else "flash") if p.flash_attention else "unfused"
    prec += ["--attention-backend", backend]
    out.append((f"precision {p.precision}, attention kernel", prec))

    shape = ["--num-layers", str(m.n_layers), "--hidden-size", str(m.d_model),
             "--ffn-hidden-size", str(m.dense_ffn_hidden or m.ffn_hidden),
             "--num-attention-heads", str(m.n_heads),
             "--max-position-embeddings", str(max(m.max_seq_len, job.seq_len))]
    if m.kv_heads != m.n_heads and not m.is_mla:
        shape += ["--group-query-attention", "--num-query-groups", str(m.kv_heads)]
    if m.head_dim is not None and not m.is_mla and m.head_dim != m.d_model // m.n_heads:
        shape += ["--kv-channels", str(m.head_dim)]
    shape += ["--normalization", "RMSNorm" if m.norm == "rmsnorm" else "LayerNorm"]
    shape += ["--position-embedding-type", "learned_absolute" if m.learned_pos_emb else "rope"]
    if m.mlp == "swiglu":
        shape += ["--swiglu"]
    if not m.tied_embeddings:
        shape += ["--untie-embeddings-and-output-weights"]
    if not (m.attn_bias or m.mlp_bias):
        shape += ["--disable-bias-linear"]
        if m.qkv_bias:
            shape += ["--add-qkv-bias"]
    if m.is_mla:
        shape += ["--multi-latent-attention", "--kv-lora-rank", str(m.kv_lora_rank),
                  "--qk-head-dim", str(m.qk_nope_head_dim or 0), "--qk-pos-emb-head-dim", str(m.qk_rope_head_dim or 0),
                  "--v-head-dim", str(m.v_head_dim or 0)]
        if m.q_lora_rank:
            shape += ["--q-lora-rank", str(m.q_lora_rank)]
    if m.is_moe:
        shape += ["--num-experts", str(m.n_experts), "--moe-router-topk", str(m.experts_per_token),
                  "--moe-ffn-hidden-size", str(m.ffn_hidden)]
        if m.n_shared_experts:
            shape += ["--moe-shared-expert-intermediate-size",
                      str(m.n_shared_experts * (m.shared_expert_hidden or m.ffn_hidden))]
        if m.n_dense_layers:
            shape += ["--moe-layer-freq", q(f"([0]*{m.n_dense_layers}+[1]*{m.n_layers - m.n_dense_layers})")]
        if p.ep > 1:
            shape += ["--moe-token-dispatcher-type", "alltoall"]
        if p.precision in ("bf16", "fp8"):
            shape += ["--moe-grouped-gemm"]
    out.append((f"model shape: {m.name} (vocab {m.vocab_size:,} comes from the tokenizer)", shape))

    ckpt_format = "fsdp_dtensor" if p.sharding in FSDP_STRATEGY else "torch_dist"
    out.append((f"checkpoints every {ctx.checkpoint_every_steps} steps (~{ctx.options.checkpoint_interval_s / 3600:g} h); "
                "SIGTERM saves one and exits",
                ['--save', '"${CKPT_DIR}"', '--load', '"${CKPT_DIR}"', "--save-interval", str(ctx.checkpoint_every_steps),
                 "--ckpt-format", ckpt_format, "--exit-signal-handler"]))

    warmup = min(2000, max(1, ctx.steps // 100))
    out.append(("optimizer (edit freely: not part of the plan)",
                ["--lr", '"${LR:-3.0e-4}"', "--min-lr", '"${MIN_LR:-3.0e-5}"', "--lr-decay-style", "cosine",
                 "--lr-warmup-iters", str(warmup), "--weight-decay", "0.1", "--clip-grad", "1.0",
                 "--adam-beta1", "0.9", "--adam-beta2", "0.95"]))
    out.append(("logging", ["--log-interval", "10", "--log-throughput", "--eval-interval", "1000", "--eval-iters", "10"]))
    return out


def args_text(ctx: c.ExportContext) -> str:
    lines = ["#!/bin/bash"] + [f"# {h}" for h in ctx.header("Megatron-LM arguments for pretrain_gpt.py")]
    lines += [f"# flags checked against {c.version_of('megatron')}",
              f"# sourced by {LAUNCH_FILE}; needs CKPT_DIR, and DATA_PATH + TOKENIZER_MODEL unless MOCK_DATA=1", "",
              "MEGATRON_ARGS=("]
    for comment, toks in build_args(ctx):
        lines.append(f"  # {comment}")
        row: list[str] = []
        for t in toks:
            if t.startswith("--") and row:
                lines.append("  " + " ".join(row))
                row = []
            row.append(t)
        if row:
            lines.append("  " + " ".join(row))
    lines.append(")")
    m = ctx.job.model
    lines += [
        "",
        "# data and tokenizer: MOCK_DATA=1 runs on synthetic tokens (a smoke test of the layout)",
        'if [[ "${MOCK_DATA:-0}" == "1" ]]; then',
        f"  MEGATRON_ARGS+=(--mock-data --tokenizer-type NullTokenizer --vocab-size {m.vocab_size})",
        "else",
        '  MEGATRON_ARGS+=(--data-path "${DATA_PATH:?set DATA_PATH to a Megatron .bin/.idx prefix}" --split 99,1,0',
        '                  --tokenizer-type HuggingFaceTokenizer --tokenizer-model "${TOKENIZER_MODEL:?set TOKENIZER_MODEL}")',
        "fi",
    ]
    return "\n".join(lines) + "\n"


def launch_text(ctx: c.ExportContext) -> str:
    p = ctx.plan
    fsdp = p.sharding in FSDP_STRATEGY
    if fsdp:
        conn = "unset CUDA_DEVICE_MAX_CONNECTIONS  # Megatron-FSDP overlaps better with several streams"
    elif p.tp > 1 or p.cp > 1:
        conn = "export CUDA_DEVICE_MAX_CONNECTIONS=1  # required by Megatron with TP/CP (before Blackwell)"
    else:
        conn = "# no TP/CP: CUDA_DEVICE_MAX_CONNECTIONS left as it is"
    head = [f"# {h}" for h in ctx.header("Megatron-LM launcher")]
    return "\n".join([
        "#!/bin/bash",
        *head,
        "#",
        "# One node per command, all nodes alike (c10d rendezvous, no node rank needed):",
        "#   MASTER_ADDR=<first node> bash launch_megatron.sh",
        "# Under Slurm (job.sbatch): one task per GPU with LAUNCH_MODE=srun, no torchrun.",
        "set -uo pipefail",
        'HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"',
        f"NNODES=${{NNODES:-{ctx.nodes}}}",
        f"GPUS_PER_NODE=${{GPUS_PER_NODE:-{ctx.gpus_per_node}}}",
        'MASTER_ADDR=${MASTER_ADDR:-localhost}',
        'MASTER_PORT=${MASTER_PORT:-6000}',
        'MEGATRON_LM=${MEGATRON_LM:-$HOME/Megatron-LM}',
        'CKPT_DIR=${CKPT_DIR:-$HERE/checkpoints}',
        conn,
        'source "$HERE/megatron_args.sh" || exit 2',
        "",
        'if [[ "${LAUNCH_MODE:-torchrun}" == "srun" ]]; then',
        '  export RANK=$SLURM_PROCID LOCAL_RANK=$SLURM_LOCALID WORLD_SIZE=$SLURM_NTASKS MASTER_ADDR MASTER_PORT',
        '  if (( WORLD_SIZE != NNODES * GPUS_PER_NODE )); then',
        '    echo "flopwise: this plan needs $((NNODES * GPUS_PER_NODE)) tasks, Slurm started $WORLD_SIZE" >&2; exit 2',
        "  fi",
        '  exec python "$MEGATRON_LM/pretrain_gpt.py" "${MEGATRON_ARGS[@]}"',
        "fi",
        'exec torchrun --nnodes "$NNODES" --nproc_per_node "$GPUS_PER_NODE" --rdzv_id "${RDZV_ID:-flopwise}" \\',
        '  --rdzv_backend c10d --rdzv_endpoint "$MASTER_ADDR:$MASTER_PORT" \\',
        '  "$MEGATRON_LM/pretrain_gpt.py" "${MEGATRON_ARGS[@]}"',
    ]) + "\n"


def write(ctx: c.ExportContext, out_dir: Path) -> list[Path]:
    return [c.write(out_dir / ARGS_FILE, args_text(ctx), executable=False),
            c.write(out_dir / LAUNCH_FILE, launch_text(ctx), executable=True)]


# ---- reading back -------------------------------------------------------------------------------


def world(out_dir: Path) -> int:
    return c.launch_world(out_dir / LAUNCH_FILE)


def read(out_dir: Path) -> tuple[ParallelPlan, int]:
    path = out_dir / ARGS_FILE
    a = c.args_dict(c.bash_array(c.read_text(path), "MEGATRON_ARGS", path))
    n = world(out_dir)

    def num(flag: str, default: int | None = None) -> int:
        if flag not in a:
            if default is None:
                raise FlopwiseError(f"{path}: {flag} is missing")
            return default
        return c.as_int(a[flag], flag, path)

    tp, pp, cp = num("--tensor-model-parallel-size", 1), num("--pipeline-model-parallel-size", 1), num("--context-parallel-size", 1)
    if n % (tp * pp * cp):
        raise FlopwiseError(f"{path}: {n} GPUs are not divisible by tp*pp*cp = {tp * pp * cp}")
    dp = n // (tp * pp * cp)
    layers = num("--num-layers")
    vpp = 1
    if "--num-layers-per-virtual-pipeline-stage" in a:
        per = num("--num-layers-per-virtual-pipeline-stage")
        if layers % (pp * per):
            raise FlopwiseError(f"{path}: {layers} layers / pp {pp} is not a multiple of {per} layers per virtual stage")
        vpp = layers // (pp * per)
    mb, gb = num("--micro-batch-size"), num("--global-batch-size")
    if gb % (mb * dp):
        raise FlopwiseError(f"{path}: global batch {gb} is not a multiple of micro-batch*dp = {mb * dp}")

    if a.get("--use-megatron-fsdp"):
        strat = a.get("--data-parallel-sharding-strategy", "no_shard")
        if strat not in FSDP_READ:
            raise FlopwiseError(f"{path}: unknown --data-parallel-sharding-strategy {strat!r}")
        sharding = FSDP_READ[strat]
    elif a.get("--use-distributed-optimizer"):
        sharding = "distributed-optimizer"
    else:
        sharding = "none"
    gran = a.get("--recompute-granularity")
    recompute = {None: "none", "selective": "selective", "full": "full"}.get(gran)
    if recompute is None:
        raise FlopwiseError(f"{path}: unknown --recompute-granularity {gran!r}")
    recompute_layers = None
    if recompute == "full" and a.get("--recompute-method") == "block":
        recompute, recompute_layers = "block", num("--recompute-num-layers")
    if "--fp8-format" in a:
        precision = "fp8"
    elif a.get("--bf16"):
        precision = "bf16"
    elif a.get("--fp16"):
        precision = "fp16"
    else:
        precision = "fp32"
    plan = ParallelPlan(
        tp=tp, pp=pp, dp=dp, cp=cp, ep=num("--expert-model-parallel-size", 1), vpp=vpp, micro_batch=mb,
        sharding=sharding, recompute=recompute, recompute_layers=recompute_layers,
        sequence_parallel=bool(a.get("--sequence-parallel")) and tp > 1,
        tp_overlap=bool(a.get("--tp-comm-overlap")) and bool(a.get("--sequence-parallel")) and tp > 1,
        ep_overlap=bool(a.get("--overlap-moe-expert-parallel-comm")) and num("--expert-model-parallel-size", 1) > 1,
        precision=precision, flash_attention=a.get("--attention-backend", "auto") in FLASH_BACKENDS,
        flash_version=3 if a.get("--attention-backend") == "fused" else 2,
    )
    return plan, n


def flag_files(out_dir: Path) -> list[tuple[Path, list[tuple[str, str]]]]:
    return [(out_dir / ARGS_FILE, [("megatron", "flags")]),
            (out_dir / LAUNCH_FILE, [("torchrun", "flags")])]
