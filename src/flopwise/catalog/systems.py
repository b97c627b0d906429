"""Bundled systems (systems.yaml) and building a Cluster for any accelerator, with overrides."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from flopwise.catalog._files import load_yaml, read_yaml_file
from flopwise.catalog.accelerators import get_accelerator
from flopwise.errors import FlopwiseError, unknown
from flopwise.spec.hardware import Accelerator, Cluster


#: Keys a user's cluster YAML may hold.
CLUSTER_FILE_KEYS = ("id", "accelerator", "gpus_per_node", "nvlink_gb_per_s", "network_gbit_per_s",
                     "intra_node_latency_us", "inter_node_latency_us", "link_domain")


def _cluster(entry: dict, acc: Accelerator) -> Cluster:
    return Cluster(
        name=entry["id"],
        accelerator=acc,
        gpus_per_node=int(entry.get("gpus_per_node", 8)),
        intra_node_bw_bytes_per_s=float(entry["nvlink_gb_per_s"]) * 1e9,
        inter_node_bw_bytes_per_s=float(entry["network_gbit_per_s"]) * 1e9 / 8,
        intra_node_latency_s=float(entry.get("intra_node_latency_us", 5)) * 1e-6,
        inter_node_latency_s=float(entry.get("inter_node_latency_us", 15)) * 1e-6,
        link_domain=int(entry["link_domain"]) if entry.get("link_domain") else None,
        source=entry.get("source", ""),
    )


@cache
def _systems() -> dict[str, dict]:
    return {e["id"]: e for e in load_yaml("systems.yaml")}


def system_ids() -> list[str]:
    return list(_systems())


def get_system(system_id: str) -> Cluster:
    entry = _systems().get(system_id.lower())
    if entry is None:
        raise unknown("system", system_id, list(_systems()))
    return _cluster(entry, get_accelerator(entry["accelerator"]))


def default_cluster(acc: Accelerator) -> Cluster:
    """The bundled system built on `acc`, else a node of 8 using the accelerator's own link figures."""
    for entry in _systems().values():
        if entry["accelerator"] == acc.id:
            return _cluster(entry, acc)
    intra = acc.intra_node_bw_bytes_per_s or 16e9
    per_node = 4 if acc.generation.startswith("tpu") else 8
    return Cluster(
        name=f"{acc.id}-node",
        accelerator=acc,
        gpus_per_node=per_node,
        intra_node_bw_bytes_per_s=intra,
        inter_node_bw_bytes_per_s=acc.inter_node_bw_bytes_per_s,
        source=f"derived from the {acc.id} catalog row",
    )


def make_cluster(
    gpu: str | None = None,
    system: str | None = None,
    file: Path | None = None,
    gpus_per_node: int | None = None,
    nvlink_gb_per_s: float | None = None,
    network_gbit_per_s: float | None = None,
) -> Cluster:
    """Cluster from a bundled system, a YAML file or an accelerator id, then CLI overrides."""
    if file is not None:
        data = read_yaml_file(file)
        if not isinstance(data, dict) or "accelerator" not in data:
            raise FlopwiseError(f"{file}: a cluster file needs at least 'accelerator' (and nvlink_gb_per_s, network_gbit_per_s)")
        extra = sorted(set(data) - set(CLUSTER_FILE_KEYS))
        if extra:
            raise unknown(f"key in cluster file {file}", str(extra[0]), list(CLUSTER_FILE_KEYS))
        if not isinstance(data["accelerator"], str):
            raise FlopwiseError(f"{file}: 'accelerator' must be an accelerator id such as h100-sxm5-80gb, "
                                f"got {data['accelerator']!r}")
        base = default_cluster(get_accelerator(data["accelerator"]))
        if gpu is not None and get_accelerator(gpu).id != base.accelerator.id:
            raise FlopwiseError(f"--gpu {gpu} contradicts {file}, whose accelerator is {base.accelerator.id}; "
                                "give one of them")
        entry = {
            "id": data.get("id", file.stem),
            "gpus_per_node": data.get("gpus_per_node", base.gpus_per_node),
            "nvlink_gb_per_s": data.get("nvlink_gb_per_s", base.intra_node_bw_bytes_per_s / 1e9),
            "network_gbit_per_s": data.get("network_gbit_per_s", base.inter_node_bw_bytes_per_s * 8 / 1e9),
            "intra_node_latency_us": data.get("intra_node_latency_us", 5),
            "inter_node_latency_us": data.get("inter_node_latency_us", 15),
            "link_domain": data.get("link_domain", base.link_domain),
            "source": str(file),
        }
        try:
            cluster = _cluster(entry, base.accelerator)
        except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            from pydantic import ValidationError

            from flopwise.catalog.models import pydantic_message

            why = pydantic_message(exc, str(file)) if isinstance(exc, ValidationError) else f"{file}: {exc}"
            raise FlopwiseError(f"{why}; give positive numbers for the counts, bandwidths (GB/s, Gbit/s) and "
                                "latencies (us)") from None
    elif system is not None:
        cluster = get_system(system)
        if gpu is not None and get_accelerator(gpu).id != cluster.accelerator.id:
            # the system's nodes and links with another accelerator in them: say so in its name
            acc = get_accelerator(gpu)
            cluster = cluster.model_copy(update={"accelerator": acc, "name": f"{cluster.name} with {acc.id}"})
    elif gpu is not None:
        cluster = default_cluster(get_accelerator(gpu))
    else:
        raise FlopwiseError("give an accelerator (--gpu ID) or a system (--system ID)")
    update: dict = {}
    if gpus_per_node is not None:
        if gpus_per_node <= 0:
            raise FlopwiseError(f"--gpus-per-node must be positive, got {gpus_per_node}")
        update["gpus_per_node"] = gpus_per_node
    if nvlink_gb_per_s is not None:
        if nvlink_gb_per_s <= 0:
            raise FlopwiseError("--nvlink-gb-per-s must be positive")
        update["intra_node_bw_bytes_per_s"] = nvlink_gb_per_s * 1e9
    if network_gbit_per_s is not None:
        if network_gbit_per_s <= 0:
            raise FlopwiseError("--network-gbit-per-s must be positive")
        update["inter_node_bw_bytes_per_s"] = network_gbit_per_s * 1e9 / 8
    return cluster.model_copy(update=update) if update else cluster
