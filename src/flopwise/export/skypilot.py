"""SkyPilot: a task YAML (accelerators, num_nodes, setup, run) around the chosen launcher.

No cloud, region or instance type is pinned, so `sky launch` lets SkyPilot's optimizer pick the
cheapest cloud that has the accelerators. The launcher files sit next to the YAML (`workdir: .`).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from flopwise.errors import FlopwiseError
from flopwise.export import common as c
from flopwise.export.slurm import LAUNCHERS, pick_launcher

NAME = "skypilot"
LABEL = "SkyPilot"
TASK_FILE = "skypilot_task.yaml"

SETUP = {
    "megatron": [
        "# Megatron-LM needs PyTorch with Transformer Engine and Apex: an NGC PyTorch container",
        "# (resources.image_id: docker:nvcr.io/nvidia/pytorch:<tag>) is the easiest base.",
        "[ -d ~/Megatron-LM ] || git clone https://github.com/NVIDIA/Megatron-LM.git ~/Megatron-LM",
        "pip install -e ~/Megatron-LM",
    ],
    "torchtitan": [f"pip install {LAUNCHERS['torchtitan'].TORCHTITAN_PIP}"],
    "deepspeed": ["pip install deepspeed"],
}
REQUIRED_ENVS = {"megatron": ["DATA_PATH", "TOKENIZER_MODEL"], "torchtitan": [], "deepspeed": ["TRAIN_SCRIPT"]}


def accelerator_name(acc_id: str) -> str:
    names = c.registry()["skypilot"]["accelerators"]
    if acc_id not in names:
        raise FlopwiseError(f"SkyPilot export: no SkyPilot accelerator name is known for '{acc_id}'; "
                            f"known: {', '.join(sorted(names))}")
    return names[acc_id]


def native(plan, job, launcher: str | None = None):
    accelerator_name(job.cluster.accelerator.id)
    return LAUNCHERS[pick_launcher(plan, job, launcher)].native(plan, job)


class _Literal(str):
    """A string dumped as a YAML block scalar (|)."""


def _literal(dumper, data):
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def task(ctx: c.ExportContext, launcher: str) -> dict:
    mod = LAUNCHERS[launcher]
    envs: dict = {k: None for k in REQUIRED_ENVS[launcher]}
    run = "\n".join([
        "export NNODES=$SKYPILOT_NUM_NODES",
        "export GPUS_PER_NODE=$SKYPILOT_NUM_GPUS_PER_NODE",
        'export MASTER_ADDR=$(echo "$SKYPILOT_NODE_IPS" | head -n1)',
        "export RDZV_ID=$SKYPILOT_TASK_ID",
        f"bash {mod.LAUNCH_FILE}",
    ]) + "\n"
    out: dict = {
        "name": f"flopwise-{ctx.slug}",
        "workdir": ".",
        "num_nodes": ctx.nodes,
        "resources": {"accelerators": f"{accelerator_name(ctx.est.accelerator)}:{ctx.gpus_per_node}",
                      "use_spot": False, "disk_size": 512},
    }
    if envs:
        out["envs"] = envs
    out["setup"] = _Literal("\n".join(SETUP[launcher]) + "\n")
    out["run"] = _Literal(run)
    return out


def task_text(ctx: c.ExportContext, launcher: str) -> str:
    head = "\n".join(f"# {h}" for h in ctx.header(f"SkyPilot task ({launcher})"))
    note = ("# keys checked against " + c.version_of("skypilot") + "\n"
            "# Launch on the cheapest cloud with these GPUs:  sky launch -c flopwise skypilot_task.yaml"
            + "".join(f" --env {k}=..." for k in REQUIRED_ENVS[launcher]) + "\n"
            "# Checkpoints on the VM disk are lost with the VM: mount a bucket (file_mounts) for CKPT_DIR on long runs.\n")
    return head + "\n" + note + yaml.dump(task(ctx, launcher), Dumper=_Dumper, sort_keys=False, width=120)


def write(ctx: c.ExportContext, out_dir: Path) -> list[Path]:
    accelerator_name(ctx.est.accelerator)
    launcher = pick_launcher(ctx.plan, ctx.job, ctx.options.launcher)
    paths = LAUNCHERS[launcher].write(ctx, out_dir)
    return paths + [c.write(out_dir / TASK_FILE, task_text(ctx, launcher))]


def launcher_of(data: dict, path: Path) -> str:
    m = re.search(r"launch_(\w+)\.sh", str(data.get("run", "")))
    if not m or m.group(1) not in LAUNCHERS:
        raise FlopwiseError(f"{path}: the run command does not call launch_<megatron|torchtitan|deepspeed>.sh")
    return m.group(1)


def read(out_dir: Path):
    path = out_dir / TASK_FILE
    data = c.parse_yaml(path)
    acc = str(data.get("resources", {}).get("accelerators", ""))
    m = re.fullmatch(r"([A-Za-z0-9_.-]+):(\d+)", acc)
    if not m:
        raise FlopwiseError(f"{path}: resources.accelerators must look like 'H100:8', got {acc!r}")
    per_node = c.as_int(m.group(2), "accelerator count", path)
    nodes = c.as_int(data.get("num_nodes", 1), "num_nodes", path)
    launcher = launcher_of(data, path)
    plan, world = LAUNCHERS[launcher].read(out_dir)
    if world != nodes * per_node:
        raise FlopwiseError(f"{path}: {nodes} nodes x {per_node} GPUs = {nodes * per_node}, but the {launcher} "
                            f"launcher is set up for {world}")
    return plan, nodes * per_node


def _launcher(out_dir: Path) -> str:
    path = out_dir / TASK_FILE
    return launcher_of(c.parse_yaml(path), path)


def flag_files(out_dir: Path):
    return LAUNCHERS[_launcher(out_dir)].flag_files(out_dir)


def key_checks(out_dir: Path):
    path = out_dir / TASK_FILE
    data = c.parse_yaml(path)
    mod = LAUNCHERS[_launcher(out_dir)]
    own = [(path, c.key_paths(data, stop=("envs",)), [("skypilot", "keys")])]
    return own + (mod.key_checks(out_dir) if hasattr(mod, "key_checks") else [])
