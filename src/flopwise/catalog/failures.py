"""Failure models: interruptions per accelerator-hour by cause (bundled failure_rates.yaml or a user file).

A `FailureModel` is the typed result: a list of causes, each with a rate per GPU-hour and the component
it belongs to (gpu, hbm, network, host, software, unknown). `estimate/reliability.py` multiplies the
total rate by GPUs x hours; it never reads a file, so the CLI loads a model here and passes it down.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from flopwise.catalog._files import load_yaml, read_yaml_file
from flopwise.errors import FlopwiseError, unknown

FILE = "failure_rates.yaml"
COMPONENTS = ("gpu", "hbm", "network", "host", "software", "unknown")
_RATE_TOLERANCE = 0.01  # a cause's stated rate must match count / exposure within 1%


class FailureCause(BaseModel):
    """One root cause of unexpected job interruptions."""

    model_config = ConfigDict(frozen=True)

    name: str
    component: str = Field(description="gpu | hbm | network | host | software | unknown")
    rate_per_gpu_hour: float = Field(ge=0, description="interruptions per accelerator-hour")
    count: float | None = Field(default=None, description="published count over the exposure, if any")
    paper_category: str = ""


class FailureModel(BaseModel):
    """Unexpected interruptions per accelerator-hour (by cause), plus an optional per-job planned rate."""

    model_config = ConfigDict(frozen=True)

    id: str
    description: str = ""
    source: str = ""
    source_url: str = ""
    date: str = ""
    accelerator: str = ""
    exposure_gpus: float | None = None
    exposure_days: float | None = None
    causes: list[FailureCause]
    planned_per_job_day: float = Field(default=0.0, ge=0, description="planned interruptions per job-day")
    published_effective_training_time: float | None = None
    notes: str = ""

    @property
    def rate_per_gpu_hour(self) -> float:
        """Total unexpected interruptions per accelerator-hour."""
        return sum(c.rate_per_gpu_hour for c in self.causes)

    @property
    def mtbf_gpu_hours(self) -> float:
        """Mean accelerator-hours between interruptions (one GPU's MTBF as the job sees it)."""
        rate = self.rate_per_gpu_hour
        return float("inf") if rate == 0 else 1.0 / rate

    def rate_by_component(self) -> dict[str, float]:
        """Rate per GPU-hour summed by component, in the order of COMPONENTS (then any others)."""
        out: dict[str, float] = {}
        for comp in COMPONENTS:
            total = sum(c.rate_per_gpu_hour for c in self.causes if c.component == comp)
            if total > 0:
                out[comp] = total
        for c in self.causes:
            if c.component not in COMPONENTS:
                out[c.component] = out.get(c.component, 0.0) + c.rate_per_gpu_hour
        return out

    def rate_by_cause(self) -> dict[str, float]:
        return {c.name: c.rate_per_gpu_hour for c in self.causes}

    def scaled(self, factor: float) -> "FailureModel":
        """The same model with every unexpected rate multiplied by `factor` (e.g. 2.0 for a flakier fleet)."""
        if factor < 0:
            raise FlopwiseError(f"a failure-rate scale must be >= 0, got {factor}")
        causes = [c.model_copy(update={"rate_per_gpu_hour": c.rate_per_gpu_hour * factor}) for c in self.causes]
        return self.model_copy(update={"causes": causes, "id": f"{self.id} x{factor:g}"})

    @classmethod
    def from_rate(cls, rate_per_gpu_hour: float, source: str = "user", planned_per_job_day: float = 0.0) -> "FailureModel":
        """A one-cause model from a total rate per GPU-hour (e.g. a CLI override)."""
        if not (math.isfinite(rate_per_gpu_hour) and rate_per_gpu_hour >= 0):
            raise FlopwiseError(f"a failure rate must be a finite number >= 0 per GPU-hour, got {rate_per_gpu_hour}")
        return cls(
            id=source,
            source=source,
            causes=[FailureCause(name="all causes", component="unknown", rate_per_gpu_hour=rate_per_gpu_hour)],
            planned_per_job_day=planned_per_job_day,
        )


def _num(value, what: str, where: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise FlopwiseError(f"{where}: {what} must be a number, got {value!r}") from None
    if x < 0 or x != x:
        raise FlopwiseError(f"{where}: {what} must be >= 0, got {value!r}")
    return x


def _parse(entry, where: str) -> FailureModel:
    """Build a FailureModel from one mapping of the YAML schema (see failure_rates.yaml)."""
    if not isinstance(entry, dict):
        raise FlopwiseError(f"{where}: a failure model must be a mapping with 'causes' or 'rate_per_gpu_hour'")
    exposure = entry.get("exposure") or {}
    if not isinstance(exposure, dict):
        raise FlopwiseError(f"{where}: 'exposure' must be a mapping with 'gpus' and 'days'")
    gpus = _num(exposure["gpus"], "exposure.gpus", where) if "gpus" in exposure else None
    days = _num(exposure["days"], "exposure.days", where) if "days" in exposure else None
    gpu_hours = gpus * days * 24 if gpus and days else None

    raw_causes = entry.get("causes")
    if raw_causes is None:
        if "rate_per_gpu_hour" not in entry:
            raise FlopwiseError(f"{where}: give 'causes' (a list) or a total 'rate_per_gpu_hour'")
        raw_causes = [{"name": "all causes", "component": "unknown", "rate_per_gpu_hour": entry["rate_per_gpu_hour"]}]
    if not isinstance(raw_causes, list) or not raw_causes:
        raise FlopwiseError(f"{where}: 'causes' must be a non-empty list")

    causes: list[FailureCause] = []
    for i, c in enumerate(raw_causes):
        if not isinstance(c, dict) or "name" not in c:
            raise FlopwiseError(f"{where}: cause #{i + 1} needs at least 'name' and 'count' or 'rate_per_gpu_hour'")
        name = str(c["name"])
        component = str(c.get("component", "unknown")).lower()
        if component not in COMPONENTS:
            raise FlopwiseError(f"{where}: cause '{name}' has component '{component}'; accepted: {', '.join(COMPONENTS)}")
        count = _num(c["count"], f"count of '{name}'", where) if "count" in c else None
        rate = _num(c["rate_per_gpu_hour"], f"rate_per_gpu_hour of '{name}'", where) if "rate_per_gpu_hour" in c else None
        if rate is None:
            if count is None or gpu_hours is None:
                raise FlopwiseError(
                    f"{where}: cause '{name}' needs 'rate_per_gpu_hour', or 'count' with exposure.gpus and exposure.days"
                )
            rate = count / gpu_hours
        elif count is not None and gpu_hours is not None:
            implied = count / gpu_hours
            if abs(rate - implied) > _RATE_TOLERANCE * max(implied, 1e-300):
                raise FlopwiseError(
                    f"{where}: cause '{name}': rate_per_gpu_hour {rate:.4g} does not match count/exposure "
                    f"= {count:g}/{gpu_hours:,.0f} GPU-hours = {implied:.4g}"
                )
            rate = implied  # the published count is the evidence; the stated rate is its rounding
        causes.append(FailureCause(name=name, component=component, rate_per_gpu_hour=rate, count=count,
                                   paper_category=str(c.get("paper_category", ""))))

    planned = entry.get("planned_per_job_day")
    if planned is None and "planned_count" in entry and days:
        planned = _num(entry["planned_count"], "planned_count", where) / days
    eff = entry.get("published_effective_training_time")
    return FailureModel(
        id=str(entry.get("id", where)),
        description=str(entry.get("description", "")).strip(),
        source=str(entry.get("source", where)).strip(),
        source_url=str(entry.get("source_url", "")),
        date=str(entry.get("date", "")),
        accelerator=str(entry.get("accelerator", "")),
        exposure_gpus=gpus,
        exposure_days=days,
        causes=causes,
        planned_per_job_day=_num(planned, "planned_per_job_day", where) if planned is not None else 0.0,
        published_effective_training_time=_num(eff, "published_effective_training_time", where) if eff is not None else None,
        notes=str(entry.get("notes", "")).strip(),
    )


@cache
def _bundled() -> dict[str, FailureModel]:
    return {e["id"]: _parse(e, f"{FILE} ({e['id']})") for e in load_yaml(FILE)}


def failure_model_ids() -> list[str]:
    return list(_bundled())


def default_failure_model_id() -> str:
    for e in load_yaml(FILE):
        if e.get("default"):
            return e["id"]
    return next(iter(_bundled()))


def get_failure_model(model_id: str | None = None) -> FailureModel:
    """A bundled failure model by id (None: the default, Llama 3 405B on 16,384 H100)."""
    models = _bundled()
    key = default_failure_model_id() if model_id is None else model_id.lower()
    if key not in models:
        raise unknown("failure model", model_id or "", list(models))
    return models[key]


def load_failure_model(path: Path | str | None = None, model_id: str | None = None) -> FailureModel:
    """The failure model from a user YAML file if `path` is given, else a bundled one (see get_failure_model).

    A user file holds one model (a mapping) in the schema of failure_rates.yaml, or a list of them
    (then `model_id` picks one, default the first).
    """
    if path is None:
        return get_failure_model(model_id)
    path = Path(path)
    data = read_yaml_file(path)
    if isinstance(data, list):
        if not data:
            raise FlopwiseError(f"{path}: the file holds an empty list of failure models")
        if model_id is None:
            return _parse(data[0], str(path))
        for e in data:
            if isinstance(e, dict) and str(e.get("id", "")).lower() == model_id.lower():
                return _parse(e, str(path))
        raise unknown("failure model", model_id, [str(e.get("id")) for e in data if isinstance(e, dict)])
    return _parse(data, str(path))
