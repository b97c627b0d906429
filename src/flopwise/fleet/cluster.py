"""The cluster file of `flopwise fleet`: pools of nodes by accelerator, topology, member groups, levers.

```yaml
name: university
pools:                       # tried in this order by policies that are not heterogeneity-aware
  - name: a100               #   (as Slurm tries nodes by weight)
    accelerator: a100-sxm4-80gb
    nodes: 16
    gpus_per_node: 8
  - name: tpu
    accelerator: tpu-v4
    nodes: 64                # hosts
    gpus_per_node: 4         # chips per host
    topology:
      kind: reconfigurable   # optical circuit switch: any free blocks compose a slice
      block_nodes: 16        # 64 chips per block; `contiguous` needs consecutive free blocks
groups:
  - {name: nlp, share: 2, quota_gpus: 96}
levers:
  max_time_limit_h: 72       # partition MaxTime: longer jobs checkpoint and requeue (or are killed)
  failure_rate_per_gpu_hour: 1.97e-5
```

Times in the file may be given in seconds (`*_s`) or hours (`*_h`); inside they are seconds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from flopwise.errors import FlopwiseError

# Llama 3 paper (Dubey et al. 2024, section 3.3.4): 419 unexpected interruptions in 54 days of
# pre-training on 16,384 H100 GPUs  ->  419 / (54 * 24 * 16,384) interruptions per GPU-hour.
LLAMA3_INTERRUPTIONS = 419
LLAMA3_DAYS = 54
LLAMA3_GPUS = 16_384
LLAMA3_FAILURE_RATE_PER_GPU_HOUR = LLAMA3_INTERRUPTIONS / (LLAMA3_DAYS * 24 * LLAMA3_GPUS)


class Topology(BaseModel):
    """Blocks of nodes. A job larger than one block takes whole free blocks: `contiguous` (a torus
    or fixed pod: consecutive blocks in the listed order) or `reconfigurable` (an optical circuit
    switch: any free blocks compose a slice). A job that fits in a block stays inside one block."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["contiguous", "reconfigurable"]
    block_nodes: int = Field(gt=0)


class PoolSpec(BaseModel):
    """Identical nodes of one accelerator type."""

    model_config = ConfigDict(extra="forbid")
    name: str
    accelerator: str
    nodes: int = Field(gt=0)
    gpus_per_node: int = Field(gt=0)
    topology: Topology | None = None
    placement: Literal["packed", "any"] = Field(
        "packed", description="packed: a job of <= gpus_per_node GPUs stays on one node and larger jobs take "
        "whole nodes (plus one node for the remainder); any: any free GPUs (count only)")
    speed: float | None = Field(None, gt=0, description="relative speed for jobs that name no model "
                                "(default: the accelerator's dense bf16 peak relative to the reference pool)")

    @property
    def gpus(self) -> int:
        return self.nodes * self.gpus_per_node

    @model_validator(mode="after")
    def _blocks_divide(self):
        if self.topology is not None and self.nodes % self.topology.block_nodes:
            raise ValueError(f"pool '{self.name}': nodes ({self.nodes}) must be a multiple of "
                             f"topology.block_nodes ({self.topology.block_nodes})")
        return self


class GroupSpec(BaseModel):
    """A member group (lab, team, Slurm account or virtual cluster)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    share: float = Field(1.0, gt=0, description="fair-share weight")
    quota_gpus: int | None = Field(None, gt=0, description="most GPUs the group may hold at once (Slurm GrpTRES)")


class Levers(BaseModel):
    """Realism levers, all in seconds inside."""

    model_config = ConfigDict(extra="forbid")
    max_time_limit_s: float | None = Field(None, gt=0, description="partition MaxTime: no attempt runs longer")
    default_time_limit_s: float | None = Field(None, gt=0, description="time limit of jobs that give none")
    on_time_limit: Literal["requeue", "kill"] = Field(
        "requeue", description="requeue: checkpoint at the limit and go back to the queue; kill: end as TIMEOUT")
    checkpoint_interval_s: float | None = Field(3600.0, gt=0, description="periodic checkpoints; "
                                                "a failure loses the work since the last one (none: all)")
    preemption_cost_s: float = Field(60.0, ge=0, description="wall time to save and restore on preemption, "
                                     "requeue or restart after a failure")
    failure_rate_per_gpu_hour: float = Field(LLAMA3_FAILURE_RATE_PER_GPU_HOUR, ge=0)
    queue_depth: int = Field(100, gt=0, description="jobs a policy looks at per pass beyond the first "
                             "(Slurm default_queue_depth / bf_max_job_test)")
    seed: int = 0


class ClusterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "cluster"
    pools: list[PoolSpec] = Field(min_length=1)
    groups: list[GroupSpec] = Field(default_factory=list)
    levers: Levers = Field(default_factory=Levers)

    @field_validator("pools")
    @classmethod
    def _unique_pools(cls, pools: list[PoolSpec]) -> list[PoolSpec]:
        names = [p.name for p in pools]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"pool names must be unique, repeated: {', '.join(sorted(dup))}")
        return pools

    @property
    def total_gpus(self) -> int:
        return sum(p.gpus for p in self.pools)

    def group_map(self) -> dict[str, GroupSpec]:
        return {g.name: g for g in self.groups}

    def pool_index(self, name_or_accelerator: str) -> int | None:
        """Index of the pool named so, or the first pool of that accelerator (or alias)."""
        key = name_or_accelerator.lower()
        for i, p in enumerate(self.pools):
            if p.name.lower() == key:
                return i
        for i, p in enumerate(self.pools):
            if p.accelerator.lower() == key or key in _accelerator_names(p.accelerator):
                return i
        return None


def _accelerator_names(acc_id: str) -> set[str]:
    from flopwise.catalog.accelerators import _aliases

    return {alias for alias, target in _aliases().items() if target == acc_id}


def _hours_to_seconds(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if k.endswith("_h") and isinstance(v, (int, float)):
            out[k[:-2] + "_s"] = float(v) * 3600.0
        else:
            out[k] = v
    return out


def cluster_from_dict(data: dict, what: str = "cluster") -> ClusterSpec:
    """Validate a cluster description; bad input is one FlopwiseError line."""
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.catalog.models import pydantic_message

    if not isinstance(data, dict):
        raise FlopwiseError(f"{what}: expected a mapping with 'pools' (and optional 'groups', 'levers')")
    data = dict(data)
    if isinstance(data.get("levers"), dict):
        data["levers"] = _hours_to_seconds(data["levers"])
    try:
        spec = ClusterSpec(**data)
    except ValidationError as exc:
        raise FlopwiseError(pydantic_message(exc, what)) from None
    except TypeError as exc:
        raise FlopwiseError(f"{what}: {exc}") from None
    for p in spec.pools:
        acc = get_accelerator(p.accelerator)  # unknown ids: one line with close matches
        p.accelerator = acc.id
    return spec


def load_cluster(path: Path | str) -> ClusterSpec:
    from flopwise.catalog._files import read_yaml_file

    path = Path(path)
    if not path.exists():
        raise FlopwiseError(f"cluster file {path} does not exist")
    return cluster_from_dict(read_yaml_file(path), what=str(path))
