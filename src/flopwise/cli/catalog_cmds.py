"""`flopwise model list|show` and `flopwise gpu list|show`."""

from __future__ import annotations

import typer
from rich.table import Table

from flopwise.catalog.accelerators import all_accelerators, get_accelerator, raw_entry
from flopwise.catalog.models import model_ids, get_model, resolve_model
from flopwise.cli.common import JSON_OPT, console, print_json
from flopwise.errors import FlopwiseError
from flopwise.estimate.model_info import model_info
from flopwise.report.format import gib, params, si

model_app = typer.Typer(help="Model architectures: catalog, Hugging Face configs, parameter counts.", no_args_is_help=True)
gpu_app = typer.Typer(help="Accelerator catalog.", no_args_is_help=True)


@model_app.command("list")
def model_list(json_out: bool = JSON_OPT) -> None:
    """List the named models in the catalog."""
    rows = []
    for mid in model_ids():
        m = get_model(mid)
        rows.append({"id": mid, "name": m.name, "params_total": m.params_total, "params_active": m.params_active,
                     "layers": m.n_layers, "d_model": m.d_model, "moe": m.is_moe, "source": m.source})
    if json_out:
        print_json(rows)
        return
    t = Table(title="flopwise models")
    for c in ("id", "params", "active", "layers", "d_model", "source"):
        t.add_column(c)
    for r in rows:
        t.add_row(r["id"], params(r["params_total"]), params(r["params_active"]) if r["moe"] else "",
                  str(r["layers"]), str(r["d_model"]), r["source"][:60])
    console.print(t)


@model_app.command("show")
def model_show(
    model: str = typer.Argument(None, help="catalog id, or path to a config.json / model YAML"),
    hf: str = typer.Option(None, "--hf", help="fetch config.json of ORG/NAME from the Hugging Face Hub"),
    context: int = typer.Option(None, "--context", help="context length for attention FLOPs (default: the model's)"),
    json_out: bool = JSON_OPT,
) -> None:
    """Architecture, parameter counts, FLOPs per token and memory at each precision."""
    if hf:
        from flopwise.catalog.hf_config import fetch_hf_config, model_from_hf_config

        spec = model_from_hf_config(fetch_hf_config(hf), name=hf)
    elif model:
        spec = resolve_model(model)
    else:
        raise FlopwiseError("give a model id or config path, or --hf ORG/NAME")
    if context is not None and context <= 0:
        raise FlopwiseError(f"--context must be positive, got {context}")
    info = model_info(spec, context)
    if json_out:
        print_json(info)
        return
    t = Table(title=f"{info.name}", show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    a = info.architecture
    shape = f"{a['n_layers']} layers, d_model {a['d_model']}, {a['n_heads']} heads"
    if spec.kv_heads != spec.n_heads:
        shape += f" ({spec.kv_heads} KV heads)"
    shape += f", {spec.mlp} MLP {spec.ffn_hidden}, vocab {spec.vocab_size}"
    if spec.is_moe:
        shape += f", MoE {spec.n_experts} experts top-{spec.experts_per_token}"
    t.add_row("architecture", shape)
    t.add_row("params_total", f"{params(info.params_total)} ({info.params_total:,})")
    if spec.is_moe:
        t.add_row("params_active", f"{params(info.params_active)} per token")
    t.add_row("embedding / non-embedding", f"{params(info.params_embedding)} / {params(info.params_non_embedding)}")
    if info.params_published:
        t.add_row("published", params(info.params_published))
    f = info.training_flops_per_token
    t.add_row(f"training FLOPs/token (seq {info.context_for_flops})",
              f"{si(f['total'])} = 6N {si(f['dense'])} + LM head {si(f['lm_head'])} + attention {si(f['attention'])}")
    t.add_row("prefill FLOPs/token", si(info.prefill_flops_per_token))
    t.add_row(f"decode FLOPs/token (ctx {info.context_for_flops})", si(info.decode_flops_per_token))
    t.add_row("weights", ", ".join(f"{p} {gib(b)}" for p, b in info.weights_bytes.items()))
    t.add_row("training states (Adam, mixed precision)", gib(info.training_state_bytes_adam) + " (16 bytes/param)")
    t.add_row("KV cache per token", ", ".join(f"{p} {b / 1024:.0f} KiB" for p, b in info.kv_cache_bytes_per_token.items()))
    if info.source:
        t.add_row("source", info.source)
    console.print(t)


@gpu_app.command("list")
def gpu_list(json_out: bool = JSON_OPT) -> None:
    """List accelerators with memory, bandwidth and dense peak rates."""
    accs = all_accelerators()
    if json_out:
        print_json([a.model_dump() for a in accs])
        return
    t = Table(title="flopwise accelerators (dense peaks)")
    for c in ("id", "memory", "HBM TB/s", "bf16 TFLOP/s", "fp8 TFLOP/s", "TDP W", "conf."):
        t.add_column(c)
    for a in accs:
        bf = a.peak("bf16") / 1e12 if a.supports("bf16") else None
        f8 = a.peak_flops_per_s.get("fp8")
        t.add_row(a.id, f"{a.memory_bytes / 2**30:.0f} GiB", f"{a.mem_bw_bytes_per_s / 1e12:.2f}",
                  f"{bf:.0f}" if bf else "-", f"{f8 / 1e12:.0f}" if f8 else "-",
                  f"{a.tdp_w:.0f}" if a.tdp_w else "-", a.confidence)
    console.print(t)


@gpu_app.command("show")
def gpu_show(gpu_id: str = typer.Argument(..., help="accelerator id, e.g. h100-sxm5-80gb"), json_out: bool = JSON_OPT) -> None:
    """One accelerator with its source and confidence."""
    acc = get_accelerator(gpu_id)
    entry = raw_entry(gpu_id)
    if json_out:
        print_json({**acc.model_dump(), "catalog_row": entry})
        return
    t = Table(title=acc.name, show_header=False)
    t.add_column("", style="bold")
    t.add_column("")
    for k, v in entry.items():
        if isinstance(v, dict):
            v = ", ".join(f"{kk} {vv}" for kk, vv in v.items())
        elif isinstance(v, list):
            v = ", ".join(map(str, v))
        t.add_row("memory_gib" if k == "memory_gb" else k, "-" if v is None or v == "" else str(v))
    console.print(t)


@gpu_app.command("systems")
def gpu_systems(json_out: bool = JSON_OPT) -> None:
    """Bundled systems (what --system takes): devices per node, the fast link's reach and bandwidth, the network."""
    from flopwise.catalog.systems import get_system, system_ids

    systems = [get_system(s) for s in system_ids()]
    if json_out:
        print_json([{"id": c.name, "accelerator": c.accelerator.id, "gpus_per_node": c.gpus_per_node,
                     "fast_domain": c.fast_domain, "intra_gb_per_s": c.intra_node_bw_bytes_per_s / 1e9,
                     "network_gbit_per_s": c.inter_node_bw_bytes_per_s * 8 / 1e9, "source": c.source} for c in systems])
        return
    t = Table(title="flopwise systems (bandwidth per device, one direction)")
    for c in ("id", "accelerator", "per node", "fast link reach", "fast link GB/s", "network Gb/s"):
        t.add_column(c)
    for c in systems:
        t.add_row(c.name, c.accelerator.id, str(c.gpus_per_node), str(c.fast_domain),
                  f"{c.intra_node_bw_bytes_per_s / 1e9:g}", f"{c.inter_node_bw_bytes_per_s * 8 / 1e9:g}")
    console.print(t)


def register(app: typer.Typer) -> None:
    app.add_typer(model_app, name="model")
    app.add_typer(gpu_app, name="gpu")
