"""Slurm: an sbatch script around the chosen launcher (Megatron-LM, torchtitan or DeepSpeed).

Time limit = estimated training time x (1 + margin) + per-job overhead, capped at the cluster's maximum
job length. When the cap cuts the run, the job checkpoints before the limit and requeues itself:
`--signal=B:USR1@<lead>` wakes the batch shell, which asks the trainers to stop (SIGTERM to the job
steps; Megatron saves a checkpoint on it with --exit-signal-handler), waits for them, then runs
`scontrol requeue`; the next segment resumes from the latest checkpoint.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from flopwise.errors import FlopwiseError
from flopwise.export import common as c
from flopwise.export import deepspeed, megatron, torchtitan

NAME = "slurm"
LABEL = "Slurm"
SBATCH_FILE = "job.sbatch"
LAUNCHERS = {"megatron": megatron, "torchtitan": torchtitan, "deepspeed": deepspeed}


def fmt_time(seconds: float) -> str:
    """Slurm D-HH:MM:SS, rounded up to the minute."""
    minutes = max(1, math.ceil(seconds / 60))
    d, rem = divmod(minutes, 24 * 60)
    h, m = divmod(rem, 60)
    return f"{d}-{h:02d}:{m:02d}:00"


def parse_time(text: str) -> float:
    """Seconds of a Slurm time string (minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS)."""
    days = 0
    if "-" in text:
        d, text = text.split("-", 1)
        days = int(d)
        parts = [int(x) for x in text.split(":")] + [0] * 2
        h, m, s = parts[:3]
    else:
        parts = [int(x) for x in text.split(":")]
        if len(parts) == 1:
            h, m, s = 0, parts[0], 0
        elif len(parts) == 2:
            h, m, s = 0, parts[0], parts[1]
        else:
            h, m, s = parts[:3]
    return ((days * 24 + h) * 60 + m) * 60 + s


def time_plan(ctx: c.ExportContext) -> dict:
    """Time limit of one job segment, the signal lead, and how many segments the run needs."""
    o = ctx.options
    if o.max_job_hours <= 0 or o.time_margin < 0 or o.overhead_s < 0 or o.signal_lead_s <= 0:
        raise FlopwiseError("Slurm export: max_job_hours and signal lead must be positive, margin/overhead >= 0")
    work_s = ctx.est.train_s * (1 + o.time_margin)
    cap_s = o.max_job_hours * 3600
    limit_s = min(work_s + o.overhead_s, cap_s)
    lead = int(min(o.signal_lead_s, 65535, max(60, limit_s / 10)))  # Slurm: sig_time <= 65535 s
    useful_s = max(limit_s - o.overhead_s - lead, 0.1 * limit_s)
    segments = 1 if work_s + o.overhead_s <= cap_s else math.ceil(work_s / useful_s)
    return {"limit_s": limit_s, "time": fmt_time(limit_s), "lead_s": lead, "segments": segments,
            "capped": work_s + o.overhead_s > cap_s, "work_s": work_s}


def sbatch_text(ctx: c.ExportContext, launcher: str) -> str:
    t = time_plan(ctx)
    o = ctx.options
    per_gpu = launcher == "megatron"  # Megatron: one task per GPU (no torchrun); others: torchrun per node
    tasks = ctx.gpus_per_node if per_gpu else 1
    launch_file = LAUNCHERS[launcher].LAUNCH_FILE
    h = ctx.est.train_s / 3600
    if t["capped"]:
        when = (f"estimated {h:,.1f} h (+{o.time_margin:.0%} margin) exceeds the {o.max_job_hours:g} h job cap: "
                f"the run continues over about {t['segments']} requeued segments")
    else:
        when = f"estimated {h:,.1f} h + {o.time_margin:.0%} margin + {o.overhead_s / 60:.0f} min start-up/checkpoint"
    sb = [
        f"--job-name=flopwise-{ctx.slug}",
        f"--nodes={ctx.nodes}",
        f"--ntasks-per-node={tasks}",
        f"--gpus-per-node={ctx.gpus_per_node}",
        f"--time={t['time']}",
        f"--signal=B:USR1@{t['lead_s']}",
        "--requeue",
        "--open-mode=append",
        "--output=slurm-%x-%j.out",
        "--exclusive",
    ]
    if o.partition:
        sb.append(f"--partition={o.partition}")
    if o.account:
        sb.append(f"--account={o.account}")
    stop = {"megatron": "Megatron saves a checkpoint on SIGTERM (--exit-signal-handler) and exits",
            "torchtitan": "torchtitan stops; the last periodic checkpoint is kept",
            "deepspeed": "the trainers stop; your script's last checkpoint is kept"}[launcher]
    lines = ["#!/bin/bash", *[f"# {x}" for x in ctx.header(f"Slurm batch script ({launcher})")],
             f"# time limit {t['time']}: {when}",
             f"# options checked against {c.version_of('slurm')}",
             "# Submit from this directory:  sbatch job.sbatch",
             *[f"#SBATCH {x}" for x in sb],
             "",
             "set -uo pipefail",
             'cd "${SLURM_SUBMIT_DIR:-.}"',
             'export MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
             "export RDZV_ID=$SLURM_JOB_ID",
             ]
    if per_gpu:
        lines.append("export LAUNCH_MODE=srun")
    lines += [
        "",
        f"# {t['lead_s']} s before the time limit Slurm sends USR1 to this shell: {stop};",
        "# then this script requeues the job, which resumes from the latest checkpoint.",
        "REQUEUE=0",
        "on_time_limit() {",
        '  echo "flopwise: time limit near, stopping the trainers and requeueing"',
        "  REQUEUE=1",
        '  scancel --signal=TERM "$SLURM_JOB_ID"  # job steps only, not this batch shell',
        "}",
        "trap on_time_limit USR1",
        "",
        f'srun --kill-on-bad-exit=1 bash "$PWD/{launch_file}" &',
        "SRUN_PID=$!",
        'while kill -0 "$SRUN_PID" 2>/dev/null; do',
        '  wait "$SRUN_PID"  # returns early when the trap runs; keep waiting for the trainers',
        "done",
        'wait "$SRUN_PID"; STATUS=$?',
        'if [[ "$REQUEUE" == "1" ]]; then',
        '  scontrol requeue "$SLURM_JOB_ID"',
        "fi",
        'exit "$STATUS"',
    ]
    return "\n".join(lines) + "\n"


def pick_launcher(plan, job, launcher: str | None) -> str:
    """The requested launcher, or the first of megatron, torchtitan, deepspeed that can run the plan."""
    from flopwise.errors import unknown

    if launcher is not None:
        if launcher not in LAUNCHERS:
            raise unknown("launcher", launcher, list(LAUNCHERS))
        return launcher
    reasons = []
    for name, mod in LAUNCHERS.items():
        try:
            mod.native(plan, job)
            return name
        except FlopwiseError as exc:
            reasons.append(str(exc))
    raise FlopwiseError("no launcher can run this plan: " + " | ".join(reasons))


def native(plan, job, launcher: str | None = None):
    return LAUNCHERS[pick_launcher(plan, job, launcher)].native(plan, job)


def write(ctx: c.ExportContext, out_dir: Path) -> list[Path]:
    launcher = pick_launcher(ctx.plan, ctx.job, ctx.options.launcher)
    paths = LAUNCHERS[launcher].write(ctx, out_dir)
    return paths + [c.write(out_dir / SBATCH_FILE, sbatch_text(ctx, launcher), executable=True)]


def sbatch_options(out_dir: Path) -> dict[str, str | bool]:
    path = out_dir / SBATCH_FILE
    opts: dict[str, str | bool] = {}
    for line in c.read_text(path).splitlines():
        if line.startswith("#SBATCH"):
            tok = line[len("#SBATCH"):].strip()
            k, _, v = tok.partition("=")
            opts[k] = v if _ else True
    return opts


def launcher_of(out_dir: Path) -> str:
    path = out_dir / SBATCH_FILE
    m = re.search(r"^srun .*launch_(\w+)\.sh", c.read_text(path), re.M)
    if not m or m.group(1) not in LAUNCHERS:
        raise FlopwiseError(f"{path}: no 'srun ... launch_<megatron|torchtitan|deepspeed>.sh' line")
    return m.group(1)


def read(out_dir: Path):
    path = out_dir / SBATCH_FILE
    o = sbatch_options(out_dir)
    for k in ("--nodes", "--gpus-per-node", "--ntasks-per-node", "--time", "--signal"):
        if k not in o:
            raise FlopwiseError(f"{path}: #SBATCH {k} is missing")
    if not o.get("--requeue"):
        raise FlopwiseError(f"{path}: #SBATCH --requeue is missing")
    if not re.fullmatch(r"B:USR1@\d+", str(o["--signal"])):
        raise FlopwiseError(f"{path}: --signal must be B:USR1@<seconds>, got {o['--signal']!r}")
    lead = int(str(o["--signal"]).split("@")[1])
    if lead >= parse_time(str(o["--time"])):
        raise FlopwiseError(f"{path}: the signal lead {lead} s is not shorter than the time limit {o['--time']}")
    nodes = c.as_int(o["--nodes"], "--nodes", path)
    gpn = c.as_int(o["--gpus-per-node"], "--gpus-per-node", path)
    launcher = launcher_of(out_dir)
    tasks = c.as_int(o["--ntasks-per-node"], "--ntasks-per-node", path)
    want = gpn if launcher == "megatron" else 1
    if tasks != want:
        raise FlopwiseError(f"{path}: {launcher} needs --ntasks-per-node={want}, got {tasks}")
    plan, world = LAUNCHERS[launcher].read(out_dir)
    if world != nodes * gpn:
        raise FlopwiseError(f"{path}: {nodes} nodes x {gpn} GPUs = {nodes * gpn}, but the {launcher} launcher "
                            f"is set up for {world}")
    return plan, nodes * gpn


def flag_files(out_dir: Path):
    launcher = launcher_of(out_dir)
    return LAUNCHERS[launcher].flag_files(out_dir) + [(out_dir / SBATCH_FILE, [("slurm", "flags")])]


def key_checks(out_dir: Path):
    mod = LAUNCHERS[launcher_of(out_dir)]
    return mod.key_checks(out_dir) if hasattr(mod, "key_checks") else []
