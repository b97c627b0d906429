"""Accelerators and the clusters built from them, in SI units (bytes, bytes/s, FLOP/s, W)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from flopwise.errors import FlopwiseError

GIB = 2**30


class Accelerator(BaseModel):
    """One device: memory, bandwidth, dense peak rates per precision, power, links."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    vendor: str
    generation: str
    memory_bytes: float = Field(gt=0)
    mem_bw_bytes_per_s: float = Field(gt=0)
    peak_flops_per_s: dict[str, float]
    tdp_w: float | None = None
    rated_power_w: float | None = Field(
        default=None, description="board power at which the listed peak rates hold, when this part runs "
        "below it (a power-capped variant); None = the rates hold at tdp_w")
    intra_node_bw_bytes_per_s: float | None = Field(default=None, description="per direction, per device")
    inter_node_bw_bytes_per_s: float = Field(gt=0, description="network per device, per direction")
    launch_year: int | None = None
    price_usd: float | None = None
    source: str = ""
    confidence: str = ""
    usable: bool = True

    def peak(self, precision: str) -> float:
        """Dense peak FLOP/s for matmuls in `precision` (bf16 falls back to fp16 on pre-Ampere parts)."""
        rates = self.peak_flops_per_s
        if precision in rates:
            return rates[precision]
        if precision == "bf16" and "fp16" in rates:
            return rates["fp16"]
        if precision == "fp16" and "bf16" in rates:
            return rates["bf16"]
        if precision == "int4" and "int8" in rates:
            return rates["int8"]
        have = ", ".join(sorted(rates))
        raise FlopwiseError(f"{self.id} has no {precision} tensor rate; it supports: {have}")

    def supports(self, precision: str) -> bool:
        try:
            self.peak(precision)
        except FlopwiseError:
            return False
        return True


class Cluster(BaseModel):
    """A set of identical nodes: devices per node, the link inside a node and the network between nodes."""

    model_config = ConfigDict(frozen=True)

    name: str
    accelerator: Accelerator
    gpus_per_node: int = Field(default=8, gt=0)
    intra_node_bw_bytes_per_s: float = Field(gt=0, description="per device, per direction (NVLink/PCIe)")
    inter_node_bw_bytes_per_s: float = Field(gt=0, description="per device, per direction (NIC share)")
    intra_node_latency_s: float = Field(default=5e-6, ge=0)
    inter_node_latency_s: float = Field(default=15e-6, ge=0)
    link_domain: int | None = Field(
        default=None, gt=0, description="devices that share the intra-node link when it reaches beyond one "
        "host (a TPU slice's ICI torus); None = one node")
    source: str = ""

    @property
    def memory_bytes(self) -> float:
        return self.accelerator.memory_bytes

    @property
    def fast_domain(self) -> int:
        """How many devices talk over the fast link (NVLink / NVSwitch / ICI) before the network."""
        return self.link_domain or self.gpus_per_node
