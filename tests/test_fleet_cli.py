"""`flopwise fleet ...` end to end: JSON output, plots, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from flopwise.cli.main import run
from flopwise.errors import FlopwiseError

ROOT = Path(__file__).resolve().parents[1]
CLUSTER = ROOT / "examples" / "fleet" / "university.yaml"
TRACE = ROOT / "examples" / "fleet" / "university_jobs.csv"


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run `flopwise fleet ARGS` in this process, through the real entry point (exit codes included)."""
    monkeypatch.chdir(ROOT)

    def invoke(*args: str) -> Done:
        monkeypatch.setattr(sys, "argv", ["flopwise", "fleet", *args])
        code = 0
        try:
            run()
        except SystemExit as exc:
            code = exc.code or 0
        out = capsys.readouterr()
        return Done(code, out.out, out.err)

    return invoke


def test_entry_point_in_a_real_process():
    p = subprocess.run([sys.executable, "-m", "flopwise.cli.main", "fleet", "simulate", "--cluster", "nope.yaml",
                        "--synthetic", "5"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 2 and p.stderr.strip() == "error: cluster file nope.yaml does not exist"


def test_simulate_json_on_the_example_trace(cli):
    p = cli("simulate", "--cluster", str(CLUSTER), "--jobs", str(TRACE), "--limit", "300", "--policy", "easy", "--json")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["policy"] == "easy" and r["jobs"] == 300 and r["total_gpus"] == 256
    assert r["jobs_completed"] + r["jobs_timeout"] == 300
    assert 0 < r["utilization"] <= 1 and r["p99_jct_s"] >= r["avg_jct_s"] * 0 and len(r["groups"]) == 4
    assert len(r["timeline"]["t_s"]) == 200


def test_compare_and_generate(cli, tmp_path):
    out = tmp_path / "w.csv"
    p = cli("generate", "--cluster", str(CLUSTER), "--jobs", "150", "--out", str(out), "--seed", "3", "--json")
    assert p.returncode == 0, p.stderr and out.exists()
    assert json.loads(p.stdout)["jobs"] == 150
    p = cli("compare", "--cluster", str(CLUSTER), "--jobs", str(out), "--policies", "fifo,sjf,las", "--json")
    assert p.returncode == 0, p.stderr
    rows = json.loads(p.stdout)
    assert [r["policy"] for r in rows] == ["fifo", "sjf", "las"]
    assert rows[1]["avg_jct_s"] <= rows[0]["avg_jct_s"]  # SJF never loses to strict FIFO on average here
    p = cli("compare", "--cluster", str(CLUSTER), "--synthetic", "100", "--policies", "fifo,easy")
    assert p.returncode == 0 and "easy" in p.stdout


@pytest.mark.parametrize("args, msg", [
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--policy", "fifoo"], "did you mean 'fifo'"),
    (["simulate", "--cluster", str(CLUSTER)], "give either --jobs TRACE or --synthetic N"),
    (["simulate", "--cluster", "nope.yaml", "--synthetic", "10"], "does not exist"),
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--plot", "x.svg"], "accepted: .html, .png"),
    (["simulate", "--cluster", str(CLUSTER), "--jobs", str(CLUSTER)], "cannot tell the format"),
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--failure-rate-per-gpu-hour", "-1"], "in [0, 1]"),
    # non-finite or absurd failure rates used to hang the simulation
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--failure-rate-per-gpu-hour", "inf"],
     "--failure-rate-per-gpu-hour must be a finite number of interruptions per GPU-hour in [0, 1]"),
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--failure-rate-per-gpu-hour", "nan"], "got nan"),
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--failure-rate-per-gpu-hour", "5"], "in [0, 1]"),
    # a rate below the bound at which big jobs still restart forever: refused, naming the job
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "200", "--failure-rate-per-gpu-hour", "0.5"],
     "at most 10,000 accepted"),
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--preemption-cost-s", "inf"], "finite"),
    # negative seeds used to crash in NumPy
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--seed", "-1"],
     "--seed must be a non-negative integer, got -1"),
    (["compare", "--cluster", str(CLUSTER), "--synthetic", "10", "--seed", "-1"], "--seed must be a non-negative integer"),
    (["generate", "--cluster", str(CLUSTER), "--out", "unused.csv", "--seed", "-3"],
     "--seed must be a non-negative integer, got -3"),
    # messages name the option
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "0"], "--synthetic must be a positive number of jobs, got 0"),
    (["generate", "--cluster", str(CLUSTER), "--out", "unused.csv", "--jobs", "0"], "--jobs must be a positive number"),
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--load", "50"], "--load must be in (0, 10], got 50"),
    (["simulate", "--cluster", str(CLUSTER), "--synthetic", "10", "--load", "50"], "fraction of the cluster's capacity"),
    (["generate", "--cluster", str(CLUSTER), "--out", "unused.csv", "--load", "nan"], "--load must be in (0, 10]"),
    (["generate", "--cluster", str(CLUSTER), "--out", "unused.csv", "--diurnal", "1"], "--diurnal must be in [0, 1)"),
    # duplicates
    (["compare", "--cluster", str(CLUSTER), "--synthetic", "10", "--policies", "fifo,fifo"], "policy 'fifo' is listed twice"),
    (["compare", "--cluster", str(CLUSTER), "--synthetic", "10", "--policies", "fifo,easy,FIFO"], "policy 'fifo' is listed twice"),
])
def test_bad_input_is_one_line_and_exit_2(cli, args, msg):
    p = cli(*args)
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and msg in lines[0] and "Traceback" not in p.stderr


def test_bad_cluster_files(cli, tmp_path):
    for text, msg in [("pools: []\n", "at least 1 item"),
                      ("pools:\n - {name: a, accelerator: h1000, nodes: 1, gpus_per_node: 8}\n", "did you mean"),
                      ("pools:\n - {name: a, accelerator: h100, nodes: 1, gpus_per_node: 8, gpus: 3}\n", "pools.0.gpus"),
                      ("levers: {on_time_limit: pause}\npools:\n - {name: a, accelerator: h100, nodes: 1, gpus_per_node: 8}\n",
                       "on_time_limit")]:
        f = tmp_path / "c.yaml"
        f.write_text(text)
        p = cli("simulate", "--cluster", str(f), "--synthetic", "5")
        assert p.returncode == 2 and msg in p.stderr, (text, p.stderr)


def test_bad_levers_and_groups_name_what_the_user_wrote(cli, tmp_path):
    base = CLUSTER.read_text()
    for edit, msg in [
        (("  preemption_cost_s: 120\n", "  preemption_cost_s: 120\n  failure_rate_per_gpu_hour: .inf\n"),
         "field 'levers.failure_rate_per_gpu_hour': must be a finite number of interruptions per GPU-hour in [0, 1]"),
        (("  preemption_cost_s: 120\n", "  preemption_cost_s: 120\n  failure_rate_per_gpu_hour: .nan\n"), "got nan"),
        (("max_time_limit_h: 72", "max_time_limit_h: -5"), "field 'levers.max_time_limit_h': Input should be greater than 0"),
        (("max_time_limit_h: 72", "max_time_limit_h: .inf"), "field 'levers.max_time_limit_h': Input should be a finite"),
        (("max_time_limit_h: 72", "max_time_limit_h: 72\n  max_time_limit_s: 3600"),
         "give levers.max_time_limit_h or levers.max_time_limit_s, not both"),
        (("  preemption_cost_s: 120\n", "  preemption_cost_s: .inf\n"), "field 'levers.preemption_cost_s'"),
        (("  preemption_cost_s: 120\n", "  preemption_cost_s: 120\n  seed: -1\n"), "field 'levers.seed'"),
        (("name: bio,", "name: nlp,"), "field 'groups': group names must be unique, repeated: nlp"),
        (("share: 3,", "share: .inf,"), "field 'groups.0.share'"),
    ]:
        assert edit[0] in base
        f = tmp_path / "c.yaml"
        f.write_text(base.replace(*edit))
        p = cli("simulate", "--cluster", str(f), "--synthetic", "10")
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and msg in lines[0] and "Traceback" not in p.stderr, (edit, p.stderr)
    assert "levers.max_time_limit_s'" not in cli("simulate", "--cluster", str(f), "--synthetic", "10").stderr


def test_binary_files_are_one_clear_error(cli, tmp_path):
    png = tmp_path / "img.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\xff\xfe\x80")
    pai = tmp_path / "pai"
    pai.mkdir()
    (pai / "pai_task_table.csv").write_bytes(png.read_bytes())
    cases = [(["--cluster", str(png), "--synthetic", "10"], f"{png} is not a text file"),
             (["--cluster", str(CLUSTER), "--jobs", str(pai)], "holds a file that is not UTF-8 text")]
    cases += [(["--cluster", str(CLUSTER), "--jobs", str(png), "--format", fmt], f"{png} is not a text file")
              for fmt in ("auto", "helios", "acme", "philly", "pai", "flopwise")]
    for args, msg in cases:
        p = cli("simulate", *args)
        lines = p.stderr.strip().splitlines()
        assert p.returncode == 2 and len(lines) == 1 and msg in lines[0] and "Traceback" not in p.stderr, (args, p.stderr)


def test_html_plot_is_self_contained(cli, tmp_path):
    out = tmp_path / "u.html"
    p = cli("simulate", "--cluster", str(CLUSTER), "--synthetic", "80", "--plot", str(out))
    assert p.returncode == 0, p.stderr
    html = out.read_text()
    assert "plotly" in html and "<script src=\"http" not in html and "queue length" in html


def test_png_without_kaleido_is_one_clear_error(tmp_path, monkeypatch):
    from flopwise.fleet.cluster import load_cluster
    from flopwise.fleet.plot import write_plot
    from flopwise.fleet.simulator import simulate
    from flopwise.fleet.synthetic import generate

    c = load_cluster(CLUSTER)
    run = simulate(c, generate(c, jobs=50), "fifo")
    monkeypatch.setitem(sys.modules, "kaleido", None)  # import kaleido -> ImportError
    with pytest.raises(FlopwiseError, match="PNG export needs kaleido and Chromium"):
        write_plot(run, tmp_path / "u.png")
    assert not (tmp_path / "u.png").exists()
