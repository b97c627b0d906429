"""Read job traces into `Job`s. Columns read (everything else is ignored):

helios   SenseTime Helios (Hu et al. SC'21, github.com/S-Lab-System-Group/HeliosData, Slurm):
         cluster_log.csv — job_id, user, vc (the group: a virtual cluster with its own quota),
         gpu_num, state, submit_time ("2020-04-01 00:00:00"), duration (s).
acme     Shanghai AI Lab Acme (Hu et al. NSDI'24, github.com/InternLM/AcmeTrace, CC BY 4.0, Slurm):
         trace_seren.csv / trace_kalos.csv — job_id, user (the group), gpu_num, state,
         submit_time ("2023-03-01 00:18:22+08:00"), duration (s).
         For both: jobs with gpu_num = 0 (CPU jobs) are skipped; a TIMEOUT job ran until its time
         limit, so its time limit is its duration; other jobs have no recorded limit.
philly   Microsoft Philly (Jeon et al. ATC'19, github.com/msr-fiddle/philly-traces):
         cluster_job_log (JSON list) — jobid, vc (the group), user, status (Pass/Killed/Failed),
         submitted_time, attempts[].start_time / end_time / detail[].gpus. GPUs = GPUs of the
         largest attempt; duration = the sum of the attempts' run times. Jobs without a complete
         attempt (no start or end time) are skipped.
pai      Alibaba PAI (Weng et al. NSDI'22, github.com/alibaba/clusterdata cluster-trace-gpu-v2020):
         pai_task_table.csv — job_name, task_name, inst_num, status, start_time, end_time,
         plan_cpu, plan_mem, plan_gpu (percent of one GPU), gpu_type; and, if found next to it,
         pai_job_table.csv — job_name, inst_id, user, status, start_time (submission), end_time.
         The released CSVs have no header row (a header row is accepted too). GPUs per job =
         ceil(sum of inst_num x plan_gpu / 100) over its tasks (GPU sharing is not modelled:
         a 50% GPU task takes a whole GPU); duration = last task end - first task start; submit =
         the job table's start_time, else the first task start; group = user; gpu_type = the
         type of the task with the most GPUs (MISC: unknown). Tasks without times are skipped.
flopwise this project's CSV (what `flopwise fleet generate` writes): job_id, submit_s, gpus,
         duration_s, and optional group, user, time_limit_s, model, gpu_type, require_type,
         speedups ("a100:2.5;v100:1": measured throughput per pool or accelerator, Gavel-style).

Times from dated traces are shifted so the first submission is t = 0.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import datetime, timezone
from pathlib import Path

from flopwise.errors import FlopwiseError
from flopwise.fleet.jobs import Job, format_speedups, parse_speedups

FORMATS = ("helios", "acme", "philly", "pai", "flopwise")
PAI_TASK_COLUMNS = ("job_name", "task_name", "inst_num", "status", "start_time", "end_time",
                    "plan_cpu", "plan_mem", "plan_gpu", "gpu_type")
PAI_JOB_COLUMNS = ("job_name", "inst_id", "user", "status", "start_time", "end_time")


def _open(path: Path):
    try:
        return open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise FlopwiseError(f"cannot read {path}: {exc.strerror}") from None


def _not_text(path: Path) -> FlopwiseError:
    what = "holds a file that is not UTF-8 text" if path.is_dir() else "is not a text file"
    return FlopwiseError(f"{path} {what} (a trace is a CSV or JSON file: {', '.join(FORMATS)})")


def _time(text: str, path: Path, row: int) -> float:
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise FlopwiseError(f"{path}: row {row}: cannot read time '{text}' (expected e.g. 2020-04-01 00:00:00)") from None
    if t.tzinfo is None:  # naive times: read as UTC so daylight saving cannot shift them
        t = t.replace(tzinfo=timezone.utc)
    return t.timestamp()


def _columns(reader: csv.DictReader, need: set[str], path: Path, what: str) -> set[str]:
    """The CSV's header as a set; one clear error naming the missing columns when `need` is not in it."""
    cols = set(reader.fieldnames or [])
    if not need <= cols:
        raise FlopwiseError(f"{path}: {what} columns {', '.join(sorted(need))}; missing {', '.join(sorted(need - cols))}")
    return cols


def _float(text: str | None, what: str, path: Path, row: int) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise FlopwiseError(f"{path}: row {row}: {what} must be a number, got '{text}'") from None


def detect_format(path: Path) -> str:
    """Guess the format from the file name and its first line."""
    if path.is_dir():
        if (path / "pai_task_table.csv").exists():
            return "pai"
        raise FlopwiseError(f"{path} is a directory without pai_task_table.csv; give a trace file")
    try:
        with _open(path) as fh:
            head = fh.read(4096)
    except UnicodeDecodeError:
        raise _not_text(path) from None
    stripped = head.lstrip()
    if stripped.startswith("[") or stripped.startswith("{"):
        return "philly"
    first = head.splitlines()[0] if head else ""
    cols = [c.strip().lower() for c in first.split(",")]
    if "submit_s" in cols:
        return "flopwise"
    if "plan_gpu" in cols or "pai" in path.name.lower():
        return "pai"
    if "gpu_num" in cols:
        return "helios" if "vc" in cols else "acme"
    raise FlopwiseError(f"cannot tell the format of {path}: give --format "
                        f"({', '.join(FORMATS)}); first line: {first[:80]!r}")


def read_trace(path: Path | str, fmt: str = "auto", limit: int | None = None) -> list[Job]:
    """Jobs from a trace file (or a PAI directory), sorted by submit time; `limit` keeps the first N."""
    path = Path(path)
    if not path.exists():
        raise FlopwiseError(f"trace {path} does not exist")
    fmt = fmt.lower()
    if fmt == "auto":
        fmt = detect_format(path)
    readers = {"helios": _read_slurm, "acme": _read_slurm, "philly": _read_philly, "pai": _read_pai,
               "flopwise": _read_flopwise}
    if fmt not in readers:
        raise FlopwiseError(f"unknown trace format '{fmt}'; accepted: auto, {', '.join(FORMATS)}")
    try:
        jobs = readers[fmt](path)
    except UnicodeDecodeError:
        raise _not_text(path) from None
    except csv.Error as exc:
        raise FlopwiseError(f"{path} is not a valid CSV file ({exc}); read as {fmt}") from None
    if not jobs:
        raise FlopwiseError(f"{path}: no GPU jobs found (read as {fmt})")
    jobs.sort(key=lambda j: j.submit_s)
    if limit:
        jobs = jobs[:limit]
    t0 = jobs[0].submit_s
    if t0:
        for j in jobs:
            j.submit_s -= t0
    return jobs


def _read_slurm(path: Path) -> list[Job]:
    jobs = []
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        cols = _columns(reader, {"job_id", "gpu_num", "submit_time", "duration"}, path, "a Helios/Acme trace needs")
        group_col = "vc" if "vc" in cols else "user"
        for k, row in enumerate(reader, start=2):
            gpus = int(_float(row["gpu_num"], "gpu_num", path, k))
            if gpus <= 0:
                continue
            dur = _float(row["duration"], "duration", path, k)
            if not math.isfinite(dur) or dur < 0:
                continue
            state = (row.get("state") or "").strip().upper()
            jobs.append(Job(
                id=row["job_id"], submit_s=_time(row["submit_time"], path, k), gpus=gpus, duration_s=dur,
                group=(row.get(group_col) or "default").strip() or "default", user=(row.get("user") or "").strip(),
                time_limit_s=dur if state == "TIMEOUT" and dur > 0 else None, trace_state=state))
    return jobs


def _read_philly(path: Path) -> list[Job]:
    try:
        with _open(path) as fh:
            data = json.load(fh)
    except json.JSONDecodeError as exc:
        raise FlopwiseError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        data = [data]
    jobs = []
    for k, entry in enumerate(data):
        if not isinstance(entry, dict) or not entry.get("submitted_time"):
            continue
        gpus = 0
        dur = 0.0
        complete = bool(entry.get("attempts"))
        for att in entry.get("attempts") or []:
            s, e = att.get("start_time"), att.get("end_time")
            if not s or not e or s == "None" or e == "None":
                complete = False
                break
            dur += max(_time(e, path, k) - _time(s, path, k), 0.0)
            gpus = max(gpus, sum(len(d.get("gpus") or []) for d in att.get("detail") or []))
        if not complete or gpus <= 0:
            continue
        jobs.append(Job(id=str(entry.get("jobid", k)), submit_s=_time(entry["submitted_time"], path, k), gpus=gpus,
                        duration_s=dur, group=str(entry.get("vc") or "default"), user=str(entry.get("user") or ""),
                        trace_state=str(entry.get("status") or "")))
    return jobs


def _pai_rows(path: Path, columns: tuple[str, ...]):
    with _open(path) as fh:
        for k, row in enumerate(csv.reader(fh), start=1):
            if not row or (k == 1 and row[0].strip() == columns[0]):
                continue
            if len(row) < len(columns):
                raise FlopwiseError(f"{path}: row {k}: expected {len(columns)} columns ({', '.join(columns)}), got {len(row)}")
            yield k, dict(zip(columns, row))


def _num(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def _read_pai(path: Path) -> list[Job]:
    task_path = path / "pai_task_table.csv" if path.is_dir() else path
    job_path = task_path.with_name("pai_job_table.csv")
    per_job: dict[str, list] = {}  # name -> [gpus, first start, last end, {type: gpus}]
    for _k, row in _pai_rows(task_path, PAI_TASK_COLUMNS):
        s, e = _num(row["start_time"]), _num(row["end_time"])
        g = _num(row["plan_gpu"]) / 100.0 * (_num(row["inst_num"]) or 1.0)
        if not (math.isfinite(s) and math.isfinite(e)) or not g > 0:
            continue
        acc = per_job.setdefault(row["job_name"], [0.0, s, e, {}])
        acc[0] += g
        acc[1] = min(acc[1], s)
        acc[2] = max(acc[2], e)
        t = row["gpu_type"].strip()
        acc[3][t] = acc[3].get(t, 0.0) + g
    submit: dict[str, tuple[float, str]] = {}
    if job_path.exists() and job_path != task_path:
        for _k, row in _pai_rows(job_path, PAI_JOB_COLUMNS):
            s = _num(row["start_time"])
            if math.isfinite(s):
                submit[row["job_name"]] = (s, row["user"])
    jobs = []
    for name, (g, s, e, types) in per_job.items():
        sub, user = submit.get(name, (s, ""))
        gtype = max(types, key=types.get)
        jobs.append(Job(id=name, submit_s=min(sub, s), gpus=max(1, math.ceil(g - 1e-9)), duration_s=max(e - s, 0.0),
                        group=user or "default", user=user, gpu_type=None if gtype.upper() == "MISC" else gtype))
    return jobs


def _opt(row: dict, key: str) -> str | None:
    v = (row.get(key) or "").strip()
    return v or None


def _read_flopwise(path: Path) -> list[Job]:
    jobs = []
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        _columns(reader, {"job_id", "submit_s", "gpus", "duration_s"}, path, "needs")
        for k, row in enumerate(reader, start=2):
            gpus = _float(row["gpus"], "gpus", path, k)
            if gpus <= 0 or gpus != int(gpus):
                raise FlopwiseError(f"{path}: row {k}: gpus must be a positive integer, got '{row['gpus']}'")
            dur = _float(row["duration_s"], "duration_s", path, k)
            if dur < 0:
                raise FlopwiseError(f"{path}: row {k}: duration_s must be >= 0, got {dur:g}")
            tl = _opt(row, "time_limit_s")
            jobs.append(Job(
                id=row["job_id"], submit_s=_float(row["submit_s"], "submit_s", path, k), gpus=int(gpus), duration_s=dur,
                group=_opt(row, "group") or "default", user=_opt(row, "user") or "",
                time_limit_s=_float(tl, "time_limit_s", path, k) if tl else None, model=_opt(row, "model"),
                gpu_type=_opt(row, "gpu_type"), require_type=_opt(row, "require_type"),
                speedups=parse_speedups(row["speedups"]) if _opt(row, "speedups") else None))
    return jobs


def write_trace(jobs: list[Job], path: Path | str) -> None:
    """Write jobs in flopwise's CSV format."""
    from flopwise.fleet.jobs import FLOPWISE_COLUMNS

    try:
        with open(path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(FLOPWISE_COLUMNS)
            for j in jobs:
                w.writerow([j.id, f"{j.submit_s:.3f}", j.gpus, f"{j.duration_s:.3f}", j.group, j.user,
                            "" if j.time_limit_s is None else f"{j.time_limit_s:.0f}", j.model or "",
                            j.gpu_type or "", j.require_type or "", format_speedups(j.speedups)])
    except OSError as exc:
        raise FlopwiseError(f"cannot write {path}: {exc.strerror}") from None
