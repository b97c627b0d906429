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

import math
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
# Largest failure rate accepted: one interruption per GPU-hour, about 50,000x the Llama 3 figure
# (every GPU failing hourly is far beyond any published fleet; such runs cannot make progress).
MAX_FAILURE_RATE_PER_GPU_HOUR = 1.0


def failure_rate_problem(rate) -> str | None:
    """Why `rate` is not an acceptable failure rate per GPU-hour (None when it is)."""
    if isinstance(rate, bool) or not isinstance(rate, (int, float)):
        return None  # not a number: left to pydantic's type check
    if not math.isfinite(rate) or not 0 <= rate <= MAX_FAILURE_RATE_PER_GPU_HOUR:
        return (f"must be a finite number of interruptions per GPU-hour in [0, {MAX_FAILURE_RATE_PER_GPU_HOUR:g}] "
                f"(Llama 3: {LLAMA3_FAILURE_RATE_PER_GPU_HOUR:.3g}; 0 disables failures), got {rate:g}")
    return None


class Topology(BaseModel):
    """Blocks of nodes. A job larger than one block takes whole free blocks: `contiguous` (a torus
    or fixed pod: consecutive blocks in the listed order) or `reconfigurable` (an optical circuit
    switch: any free blocks compose a slice). A job that fits in a block stays inside one block."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    kind: Literal["contiguous", "reconfigurable"]
    block_nodes: int = Field(gt=0)


class PoolSpec(BaseModel):
    """Identical nodes of one accelerator type."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
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

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str
    share: float = Field(1.0, gt=0, description="fair-share weight")
    quota_gpus: int | None = Field(None, gt=0, description="most GPUs the group may hold at once (Slurm GrpTRES)")


class Levers(BaseModel):
    """Realism levers, all in seconds inside."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    max_time_limit_s: float | None = Field(None, gt=0, description="partition MaxTime: no attempt runs longer")
    default_time_limit_s: float | None = Field(None, gt=0, description="time limit of jobs that give none")
    on_time_limit: Literal["requeue", "kill"] = Field(
        "requeue", description="requeue: checkpoint at the limit and go back to the queue; kill: end as TIMEOUT")
    checkpoint_interval_s: float | None = Field(3600.0, gt=0, description="periodic checkpoints; "
                                                "a failure loses the work since the last one (none: all)")
    preemption_cost_s: float = Field(60.0, ge=0, description="wall time to save and restore on preemption, "
                                     "requeue or restart after a failure")
    failure_rate_per_gpu_hour: float = Field(LLAMA3_FAILURE_RATE_PER_GPU_HOUR, ge=0, le=MAX_FAILURE_RATE_PER_GPU_HOUR)
    queue_depth: int = Field(100, gt=0, description="jobs a policy looks at per pass beyond the first "
                             "(Slurm default_queue_depth / bf_max_job_test)")
    seed: int = Field(0, ge=0, description="failure draws (random.Random)")

    @field_validator("failure_rate_per_gpu_hour", mode="before")
    @classmethod
    def _rate(cls, v):
        why = failure_rate_problem(v)
        if why:
            raise ValueError(why)
        return v


class ClusterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: str = "cluster"
    pools: list[PoolSpec] = Field(min_length=1)
    groups: list[GroupSpec] = Field(default_factory=list)
    levers: Levers = Field(default_factory=Levers)

    @field_validator("pools", "groups")
    @classmethod
    def _unique_names(cls, items: list, info):
        names = [x.name for x in items]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            what = info.field_name[:-1]
            raise ValueError(f"{what} names must be unique, repeated: {', '.join(sorted(dup))}")
        return items

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


def _hours_to_seconds(d: dict, what: str) -> tuple[dict, dict[str, str]]:
    """`*_h` keys as `*_s` in seconds, and {seconds key: the key the user wrote} for error messages."""
    out, renamed = {}, {}
    for k, v in d.items():
        if isinstance(k, str) and k.endswith("_h") and isinstance(v, (int, float)) and not isinstance(v, bool):
            s_key = k[:-2] + "_s"
            if s_key in d:
                raise FlopwiseError(f"{what}: give levers.{k} or levers.{s_key}, not both")
            out[s_key] = float(v) * 3600.0
            renamed[s_key] = k
        else:
            out[k] = v
    return out, renamed


def cluster_from_dict(data: dict, what: str = "cluster") -> ClusterSpec:
    """Validate a cluster description; bad input is one FlopwiseError line."""
    from flopwise.catalog.accelerators import get_accelerator
    from flopwise.catalog.models import pydantic_message

    if not isinstance(data, dict):
        raise FlopwiseError(f"{what}: expected a mapping with 'pools' (and optional 'groups', 'levers')")
    data = dict(data)
    renamed: dict[str, str] = {}
    if isinstance(data.get("levers"), dict):
        data["levers"], renamed = _hours_to_seconds(data["levers"], what)
    try:
        spec = ClusterSpec(**data)
    except ValidationError as exc:
        msg = pydantic_message(exc, what)
        loc = exc.errors()[0]["loc"]
        if len(loc) >= 2 and loc[0] == "levers" and loc[1] in renamed:  # name the key the user wrote (hours)
            msg = msg.replace(f"'levers.{loc[1]}'", f"'levers.{renamed[loc[1]]}'", 1)
        raise FlopwiseError(msg) from None
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
