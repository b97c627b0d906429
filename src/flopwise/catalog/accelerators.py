"""The accelerator catalog (bundled accelerators.yaml, converted from the shared specs table)."""

from __future__ import annotations

import re

from functools import cache

from flopwise.catalog._files import load_yaml
from flopwise.errors import unknown
from flopwise.spec.hardware import GIB, Accelerator


def _from_entry(e: dict) -> Accelerator:
    peaks = {k: float(v) * 1e12 for k, v in (e.get("peak_tflops") or {}).items()}
    intra = e.get("intra_node_gb_per_s")
    price = None
    if e.get("price_usd_low") and e.get("price_usd_high"):
        price = (e["price_usd_low"] + e["price_usd_high"]) / 2
    return Accelerator(
        id=e["id"],
        name=e["name"],
        vendor=e["vendor"],
        generation=e["generation"],
        # Datasheet "80 GB" of HBM is 80 GiB of addressable memory in practice (nvidia-smi: 81,920 MiB on A100).
        memory_bytes=e["memory_gb"] * GIB,
        mem_bw_bytes_per_s=e["mem_bw_tb_per_s"] * 1e12,
        peak_flops_per_s=peaks,
        tdp_w=e.get("tdp_w"),
        rated_power_w=e.get("rated_power_w"),
        # The source lists total bidirectional GB/s; one direction is half.
        intra_node_bw_bytes_per_s=intra * 1e9 / 2 if intra else None,
        inter_node_bw_bytes_per_s=e["inter_node_gbit_per_s"] * 1e9 / 8,
        launch_year=e.get("launch_year"),
        price_usd=price,
        source=e.get("source", ""),
        confidence=e.get("confidence", ""),
        usable=e.get("usable", True),
    )


@cache
def _catalog() -> dict[str, Accelerator]:
    return {e["id"]: _from_entry(e) for e in load_yaml("accelerators.yaml")}


@cache
def _aliases() -> dict[str, str]:
    return {a.lower(): e["id"] for e in load_yaml("accelerators.yaml") for a in e.get("aliases", []) or []}


def accelerator_ids(usable_only: bool = False) -> list[str]:
    return [k for k, a in _catalog().items() if a.usable or not usable_only]


def all_accelerators() -> list[Accelerator]:
    return list(_catalog().values())


def get_accelerator(acc_id: str) -> Accelerator:
    """Look up an accelerator by id or alias, as written in papers too ("H100 SXM5 80GB", "NVIDIA A100
    80GB", "TPU v5p", "RTX 4090"): case, spaces and underscores do not matter; unknown ids get close matches."""
    cat = _catalog()
    key = acc_id.lower().strip()
    spelled = re.sub(r"[\s_]+", "-", key.removeprefix("nvidia ").removeprefix("google ").removeprefix("amd "))
    for k in (key, spelled):
        if k in cat:
            return cat[k]
        if k in _aliases():
            return cat[_aliases()[k]]
    raise unknown("accelerator", acc_id, list(cat), hint="see `flopwise gpu list`")


def raw_entry(acc_id: str) -> dict:
    """The catalog row as written in the data file (for `gpu show`)."""
    acc = get_accelerator(acc_id)
    return next(e for e in load_yaml("accelerators.yaml") if e["id"] == acc.id)
