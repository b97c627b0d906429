"""Launcher exports: turn a planned training run into files a cluster can run.

    export_plan(target, est, job, out_dir) -> [paths]      write, then validate, the files
    read_back(target, out_dir) -> ParallelPlan             parse the files back into a plan
    validate_export(target, out_dir, gpus=None)            parse + flag names + degrees x GPUs
    native_plan(target, plan, job) -> ParallelPlan         the plan in the target's vocabulary

Targets: megatron (pretrain_gpt.py arguments + launcher), torchtitan (TOML job config + launcher),
deepspeed (ds_config.json + launcher), slurm (sbatch around one of those), skypilot (task YAML around
one of those). Every flag or key written is checked against flags.yaml, which records the version of
the target each name was checked at.
"""

from __future__ import annotations

from pathlib import Path

from flopwise.errors import FlopwiseError, unknown
from flopwise.estimate.training import TrainingJob
from flopwise.export import common, deepspeed, megatron, skypilot, slurm, torchtitan
from flopwise.export.common import ExportOptions
from flopwise.plan.parallel import ParallelPlan
from flopwise.plan.training import TrainingEstimate

TARGETS = {
    "megatron": megatron,
    "torchtitan": torchtitan,
    "deepspeed": deepspeed,
    "slurm": slurm,
    "skypilot": skypilot,
}

__all__ = ["TARGETS", "ExportOptions", "export_plan", "native_plan", "read_back", "validate_export"]


def _target(target: str):
    mod = TARGETS.get(target.lower())
    if mod is None:
        raise unknown("export target", target, list(TARGETS))
    return mod


def native_plan(target: str, plan: ParallelPlan, job: TrainingJob, launcher: str | None = None) -> ParallelPlan:
    """`plan` as `target` expresses it (e.g. zero1 -> distributed-optimizer for Megatron-LM, fsdp -> zero3
    for DeepSpeed, sp off when tp=1); FlopwiseError with the reason when the target cannot express it.
    `launcher` applies to slurm/skypilot (None: the first of megatron, torchtitan, deepspeed that fits)."""
    mod = _target(target)
    if mod in (slurm, skypilot):
        return mod.native(plan, job, launcher)
    return mod.native(plan, job)


def export_plan(target: str, est: TrainingEstimate, job: TrainingJob, out_dir: Path,
                options: ExportOptions | None = None, **overrides) -> list[Path]:
    """Write the files for `target` into `out_dir`, validate them, and return their paths.

    `options` / keyword overrides (ExportOptions fields): launcher (slurm, skypilot), max_job_hours,
    time_margin, overhead_s, signal_lead_s, checkpoint_interval_s, partition, account.
    """
    mod = _target(target)
    opts = options or ExportOptions()
    if overrides:
        bad = set(overrides) - set(ExportOptions.__dataclass_fields__)
        if bad:
            raise FlopwiseError(f"unknown export option(s): {', '.join(sorted(bad))}; "
                                f"accepted: {', '.join(ExportOptions.__dataclass_fields__)}")
        opts = ExportOptions(**{**opts.__dict__, **overrides})
    if est.plan is None:
        raise FlopwiseError("nothing to export: this estimate has no parallel plan (it came from --mfu); "
                            "run the planner, or give --plan")
    if est.plan.gpus != est.gpus:
        p = est.plan
        raise FlopwiseError(f"plan degrees tp*pp*dp*cp = {p.tp}*{p.pp}*{p.dp}*{p.cp} = {p.gpus} "
                            f"do not multiply to the {est.gpus} GPUs of the estimate")
    common.nodes_for(est.gpus, job.cluster.gpus_per_node)
    plan = native_plan(target, est.plan, job, opts.launcher)
    ctx = common.ExportContext(est=est, job=job, plan=plan, options=opts)
    out_dir = Path(out_dir)
    paths = mod.write(ctx, out_dir)
    back = validate_export(target, out_dir, gpus=est.gpus)
    if back != plan:
        raise FlopwiseError(f"internal: the {mod.LABEL} files read back as [{back.label()}], "
                            f"not the exported [{plan.label()}]")
    return paths


def read_back(target: str, out_dir: Path) -> ParallelPlan:
    """Parse the files `export_plan(target, ...)` wrote in `out_dir` back into a ParallelPlan."""
    return _target(target).read(Path(out_dir))[0]


def validate_export(target: str, out_dir: Path, gpus: int | None = None) -> ParallelPlan:
    """Check exported files: they parse, every flag/key is in flags.yaml, and tp*pp*dp*cp equals the GPU
    count the launcher starts (and `gpus`, when given). Returns the plan read back."""
    mod = _target(target)
    out_dir = Path(out_dir)
    for path, sections in mod.flag_files(out_dir):
        names = common.shell_flags(common.read_text(path), sbatch=path.suffix == ".sbatch")
        common.check_names(names, sections, str(path))
    for path, names, sections in (mod.key_checks(out_dir) if hasattr(mod, "key_checks") else []):
        common.check_names(names, sections, str(path))
    plan, world = mod.read(out_dir)
    common.check_world(plan, world, out_dir)
    if gpus is not None and world != gpus:
        raise FlopwiseError(f"{out_dir}: the {mod.LABEL} files start {world} GPUs, the plan was made for {gpus}")
    return plan
