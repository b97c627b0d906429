"""Economics: prices (bundled, user CSV, SkyPilot catalogs), compare (filters, Pareto front), TCO, energy and
carbon, spot overhead, budget — and three figures from the material that motivates flopwise, reproduced
with their assumptions printed (run `pytest -s tests/test_economics.py -k figure` to see them)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from flopwise.catalog.accelerators import get_accelerator
from flopwise.catalog.carbon import grid_intensity, node_overhead
from flopwise.catalog.models import get_model
from flopwise.catalog.prices import (
    PRICES_DATE,
    bundled_catalog,
    cheapest_price,
    cheapest_spot_price,
    load_prices,
    price_catalog,
)
from flopwise.errors import FlopwiseError
from flopwise.estimate.economics import (
    PowerInputs,
    TcoInputs,
    electricity_difference,
    energy,
    run_cost,
    spot_overhead,
    tco,
)
from flopwise.estimate.flops import training_flops
from flopwise.plan.compare import compare_training, pareto_mask

A100_BF16 = 312e12  # dense bf16/fp16 tensor peak of A100 (NVIDIA datasheet; NOTES §1.2)


@pytest.fixture(autouse=True)
def _no_user_skypilot(monkeypatch, tmp_path):
    """Never let a real ~/.sky/catalogs on the test machine change the numbers."""
    monkeypatch.setenv("FLOPWISE_SKY_CATALOG_DIR", str(tmp_path / "no-sky-catalog-here"))


def show(title, lines):
    print(f"\n{title}")
    for line in lines:
        print(f"  - {line}")


# ---- the three reproduced figures ---------------------------------------------------------------------------

def test_figure_compute_optimal_1t_model_on_a100():
    """A compute-optimal 1T-parameter model on A100 at 55% MFU and $1.5/GPU-hour ≈ $308M over ≈ 86 days
    on 100,000 GPUs. Compute-optimal = Hoffmann et al. 2022 (approach 1): 1T params ↔ 1.27e26 FLOPs, 21.2T
    tokens (their Table 3)."""
    try:
        from flopwise.estimate.scaling import get_law

        law = get_law("chinchilla-1")
        flops = law.compute_for_params(1e12)
        tokens = law.tokens_for_compute(flops)
        how = f"{law.name}: 1T params → {tokens:.3g} tokens, {flops:.3g} FLOPs"
    except ImportError:  # Hoffmann et al. 2022, Table 3
        flops, tokens, how = 1.27e26, 21.2e12, "Hoffmann et al. 2022 Table 3: 1T params, 21.2T tokens, 1.27e26 FLOPs"
    assert flops == pytest.approx(1.27e26, rel=0.02)
    r = run_cost(flops, A100_BF16, 0.55, 1.5, gpus=100_000, what=how)
    show("compute-optimal 1T model on 100,000 A100 at 55% MFU, $1.5/GPU-h", r.assumptions)
    assert r.cost_usd == pytest.approx(308e6, rel=0.03)
    assert r.days == pytest.approx(86, rel=0.03)
    assert any("55% MFU" in a for a in r.assumptions) and any("$1.50/GPU-hour" in a for a in r.assumptions)


def test_figure_gpt3_training_cost_at_catalog_a100_prices():
    """GPT-3 (175B, 300B tokens): 6·N·D = 3.15e23 FLOPs; at the A100's 312 TFLOP/s peak that is ~280k
    A100-hours — the a16z idealisation (100% utilisation) — priced at every A100 price in the catalog."""
    m = get_model("gpt3-175b")
    dense = training_flops(m, 300e9).dense_flops
    assert dense == pytest.approx(3.14e23, rel=0.02)  # 6·N·D with N = non-embedding params
    flops = 6 * 175e9 * 300e9
    a100s = [p for p in bundled_catalog().prices if p.accelerator.startswith("a100")]
    assert len(a100s) >= 8 and all(p.date for p in a100s)
    lines = [f"{flops:.3g} FLOPs (6 x 175e9 params x 300e9 tokens), A100 dense bf16 peak 312 TFLOP/s"]
    costs = {}
    for mfu in (1.0, 0.5):
        for p in a100s:
            r = run_cost(flops, A100_BF16, mfu, p.usd_per_gpu_hour)
            costs[(mfu, p.cloud, p.accelerator)] = r.cost_usd
            lines.append(f"MFU {mfu:.0%}: {p.cloud} {p.accelerator} ${p.usd_per_gpu_hour:.2f}/GPU-h "
                         f"(prices of {p.date}) → {r.gpu_hours:,.0f} GPU-h, ${r.cost_usd:,.0f}")
    show("GPT-3 training cost at the catalog's A100 prices", lines)
    gpu_hours = flops / A100_BF16 / 3600
    assert gpu_hours == pytest.approx(280_449, rel=1e-3)
    # Lambda's A100 at $1.99 (catalog, late 2025) and perfect utilisation: ~$558k (a16z: "~$560k at ~$2/h")
    assert costs[(1.0, "lambda", "a100-sxm4-40gb")] == pytest.approx(558_000, rel=0.01)
    lo, hi = min(p.usd_per_gpu_hour for p in a100s), max(p.usd_per_gpu_hour for p in a100s)
    assert (lo, hi) == (pytest.approx(1.39), pytest.approx(4.0963))  # RunPod A100-80GB PCIe … Azure ND A100 v4
    assert min(v for k, v in costs.items() if k[0] == 1.0) == pytest.approx(gpu_hours * 1.39, rel=1e-6)
    assert costs[(0.5, "aws", "a100-sxm4-40gb")] == pytest.approx(2 * costs[(1.0, "aws", "a100-sxm4-40gb")])


def test_figure_electricity_two_3080ti_vs_one_a100_pcie():
    """Two RTX 3080 Ti (2 x 350 W) vs one A100 PCIe (300 W), three years 24/7 at $0.10/kWh: $1,051."""
    a = 2 * get_accelerator("rtx-3080-ti").tdp_w
    b = get_accelerator("a100-pcie-80gb").tdp_w
    assert (a, b) == (700, 300)
    d = electricity_difference(a, b, 3, 0.10, a_name="2 x RTX 3080 Ti", b_name="A100 PCIe 80GB")
    show("electricity: 2 x RTX 3080 Ti vs A100 PCIe over 3 years", d.assumptions)
    assert d.hours == 26_280
    assert d.difference_usd == pytest.approx(1051.20, abs=0.01)  # 0.4 kW x 26,280 h x $0.10
    assert d.a_usd == pytest.approx(1839.60, abs=0.01) and d.b_usd == pytest.approx(788.40, abs=0.01)
    # the same through the facility model: PUE 1 and full load, no node overhead
    p = PowerInputs(tdp_w=a, load_fraction=1.0, pue=1.0, usd_per_kwh=0.10)
    q = PowerInputs(tdp_w=b, load_fraction=1.0, pue=1.0, usd_per_kwh=0.10)
    diff = energy(1, 26_280, p).electricity_usd - energy(1, 26_280, q).electricity_usd
    assert diff == pytest.approx(1051.20, abs=0.01)


# ---- prices ---------------------------------------------------------------------------------------------------

def test_bundled_prices_have_dates_and_keep_the_old_api():
    cat = bundled_catalog()
    assert {"aws", "gcp", "azure", "lambda", "runpod"} <= set(cat.clouds())
    assert all(p.date for p in cat.prices)
    assert {p.date for p in cat.prices if p.cloud == "azure"} == {"2024 (est.)"}
    h100 = cheapest_price("h100-sxm5-80gb")
    assert h100 is not None and h100.usd_per_gpu_hour == pytest.approx(3.29)  # RunPod H100 SXM
    assert "2025-11" in h100.describe()
    assert cheapest_price("h100-sxm5-80gb", cloud="lambda").usd_per_gpu_hour == pytest.approx(3.99)
    spot = cheapest_spot_price("h100-sxm5-80gb")
    assert spot.cloud == "aws" and spot.spot_usd_per_gpu_hour == pytest.approx(2.016)  # dearest zone (conservative)
    assert spot.spot_min_usd_per_gpu_hour == pytest.approx(1.445)
    assert cheapest_price("no-such-gpu") is None
    assert PRICES_DATE.startswith("2025-11")
    # RunPod v8 lists spot == on-demand: no spot data
    assert all(p.spot_usd_per_gpu_hour is None for p in cat.prices if p.cloud == "runpod")


def test_user_price_csv(tmp_path):
    f = tmp_path / "quotes.csv"
    f.write_text("cloud,accelerator,usd_per_gpu_hour,spot_usd_per_gpu_hour,region,date\n"
                 "neocloud,H100,1.85,,us-tx,2026-01-15\nneocloud,A100-80GB,1.10,0.70,us-tx,2026-01-15\n")
    rows = load_prices(f)
    assert [(p.accelerator, p.usd_per_gpu_hour, p.date) for p in rows] == [
        ("h100-sxm5-80gb", 1.85, "2026-01-15"), ("a100-sxm4-80gb", 1.10, "2026-01-15")]
    cat = price_catalog(f)
    assert cat.clouds() == ["neocloud"] and "2026-01-15" in cat.sources[0]
    undated = tmp_path / "undated.csv"
    undated.write_text("cloud,accelerator,usd_per_gpu_hour\nmine,L4,0.40\n")
    assert "(file date)" in load_prices(undated)[0].date


@pytest.mark.parametrize("text, match", [
    ("cloud,accelerator,usd_per_gpu_hour\nx,H100,abc\n", "not a number"),
    ("cloud,accelerator,usd_per_gpu_hour\nx,H100,-2\n", "positive"),
    ("cloud,gpu,usd_per_gpu_hour\nx,H100,2\n", "missing column 'accelerator'"),
    ("cloud,accelerator,cost\nx,H100,2\n", "no on-demand price column"),
    ("cloud,accelerator,usd_per_gpu_hour\n", "no rows"),
])
def test_bad_price_files(tmp_path, text, match):
    f = tmp_path / "p.csv"
    f.write_text(text)
    with pytest.raises(FlopwiseError, match=match):
        load_prices(f)
    with pytest.raises(FlopwiseError, match="does not exist"):
        load_prices(tmp_path / "missing.csv")


def write_sky_catalog(root):
    """A small SkyPilot catalog cache in the layout the SkyPilot client writes (~/.sky/catalogs/<v>/<cloud>/vms.csv)."""
    aws = root / "v8" / "aws"
    aws.mkdir(parents=True)
    (aws / "vms.csv").write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Price,SpotPrice,Region,AvailabilityZone,Arch\n"
        'p5.48xlarge,H100,8,192,2048,"{}",55.04,16.0,us-east-1,us-east-1a,x86_64\n'
        'p5.48xlarge,H100,8,192,2048,"{}",55.04,12.0,us-east-1,us-east-1b,x86_64\n'
        'g6f.xlarge,L4,0.125,4,16,"{}",0.2,0.1,us-east-1,us-east-1a,x86_64\n'
        'm5.large,,,2,8,,0.096,0.04,us-east-1,us-east-1a,x86_64\n'
        'p5e.48xlarge,H200,8,192,2048,"{}",,20.0,us-east-1,us-east-1a,x86_64\n')
    old = root / "v7" / "aws"
    old.mkdir(parents=True)
    (old / "vms.csv").write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n"
        "p5.48xlarge,H100,8,192,2048,,us-east-1,us-east-1a,98.32,30.0\n")
    gcp = root / "v8" / "gcp"
    gcp.mkdir(parents=True)
    (gcp / "vms.csv").write_text(
        "InstanceType,vCPUs,MemoryGiB,AcceleratorName,AcceleratorCount,GpuInfo,Region,AvailabilityZone,Price,SpotPrice\n"
        "a3-highgpu-8g,208,1872,H100,8,,us-central1,us-central1-a,9.46,3.0\n"
        ",,,H100,8,,us-central1,us-central1-a,33.6,20.0\n"
        "TPU-VM,,,tpu-v5p-8,1,,us-central1,us-central1-a,16.8,3.34\n"
        ",,,A100,1,,us-central1,us-central1-a,700.0,700.0\n")
    runpod = root / "v8" / "runpod"
    runpod.mkdir(parents=True)
    (runpod / "vms.csv").write_text(
        "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Region,SpotPrice,Price,AvailabilityZone,GpuInfo\n"
        "1x_RTX4090_SECURE,RTX4090,1,8,30,CA,0.69,0.69,CA,\n")


def test_skypilot_catalog_is_read_and_replaces_those_clouds(tmp_path):
    root = tmp_path / "catalogs"
    write_sky_catalog(root)
    cat = price_catalog(sky_dir=root)
    aws = cat.for_accelerator("h100-sxm5-80gb", "aws")
    assert len(aws) == 1 and aws[0].usd_per_gpu_hour == pytest.approx(6.88)  # v8 wins over the older v7 file
    assert aws[0].spot_usd_per_gpu_hour == pytest.approx(2.0) and aws[0].spot_min_usd_per_gpu_hour == pytest.approx(1.5)
    assert "(downloaded)" in aws[0].date and "SkyPilot catalog v8/aws" in aws[0].source
    assert not cat.for_accelerator("l4", "aws")  # fractional GPU skipped
    assert not cat.for_accelerator("h200-sxm-141gb", "aws")  # capacity-block row without on-demand price
    gcp = cat.for_accelerator("h100-sxm5-80gb", "gcp")[0]
    assert gcp.usd_per_gpu_hour == pytest.approx((9.46 + 33.6) / 8)  # host VM + GPU rows added
    assert gcp.spot_usd_per_gpu_hour == pytest.approx((3.0 + 20.0) / 8)
    tpu = cat.for_accelerator("tpu-v5p", "gcp")[0]
    assert tpu.usd_per_gpu_hour == pytest.approx(4.2)  # tpu-v5p-8 = 8 TensorCores = 4 chips
    assert not cat.for_accelerator("a100-sxm4-40gb", "gcp")  # 700.0 = not available
    rp = cat.for_accelerator("rtx-4090", "runpod")[0]
    assert rp.spot_usd_per_gpu_hour is None  # spot == on-demand → no spot data
    assert not cat.for_accelerator("mi300x", "runpod")  # RunPod now comes from SkyPilot, not the bundled file
    assert cat.for_accelerator("h100-sxm5-80gb", "lambda")[0].date == "2025-11"  # bundled for the rest
    assert any("SkyPilot catalog" in s for s in cat.sources) and any("bundled" in s for s in cat.sources)
    assert price_catalog(sky_dir=root, skypilot=False).for_accelerator("h100-sxm5-80gb", "aws")[0].date == "2025-11"


def test_compare_cli_uses_the_skypilot_cache(cli, monkeypatch, tmp_path):
    root = tmp_path / "catalogs"
    write_sky_catalog(root)
    monkeypatch.setenv("FLOPWISE_SKY_CATALOG_DIR", str(root))
    proc = cli("compare", "llama-2-7b", "--tokens", "1e11", "--gpu", "h100-sxm5-80gb", "--clouds", "aws,lambda",
               "--no-spot", "--json", check=True)
    res = json.loads(proc.stdout)
    by_cloud = {r["cloud"]: r for r in res["rows"]}
    assert by_cloud["aws"]["usd_per_gpu_hour"] == pytest.approx(6.88) and "downloaded" in by_cloud["aws"]["price_date"]
    assert by_cloud["lambda"]["price_date"] == "2025-11"


# ---- compare ----------------------------------------------------------------------------------------------

def test_pareto_mask_matches_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(20):
        c = rng.integers(0, 8, 30).astype(float)
        t = rng.integers(0, 8, 30).astype(float)
        m = pareto_mask(c, t)
        for i in range(30):
            dominated = any(c[j] <= c[i] and t[j] <= t[i] and (c[j] < c[i] or t[j] < t[i]) for j in range(30))
            assert m[i] == (not dominated)


@pytest.fixture(scope="module")
def small_compare():
    return compare_training(get_model("llama-2-7b"), 2e11, bundled_catalog(), workers=1,
                            accelerators=["h100-sxm5-80gb", "a100-sxm4-80gb", "l4", "b200", "mi300x"])


def test_compare_front_is_not_dominated_and_dominates_the_rest(small_compare):
    res = small_compare
    assert res.rows and res.pareto
    for p in res.pareto:
        assert not any(r.cost_usd <= p.cost_usd and r.days <= p.days and (r.cost_usd < p.cost_usd or r.days < p.days)
                       for r in res.rows)
    front = res.pareto
    for r in res.rows:
        if not r.pareto:
            assert any(p.cost_usd <= r.cost_usd and p.days <= r.days for p in front)
    # the front runs from the fastest to the cheapest option
    assert front[0].days == min(r.days for r in res.rows)
    assert front[-1].cost_usd == min(r.cost_usd for r in res.rows)
    days = [p.days for p in front]
    costs = [p.cost_usd for p in front]
    assert days == sorted(days) and costs == sorted(costs, reverse=True)


def test_compare_rows_are_priced_consistently(small_compare):
    res = small_compare
    assert {r.cloud for r in res.rows} >= {"aws", "lambda", "runpod", "gcp"}
    assert {r.accelerator for r in res.rows} == {"h100-sxm5-80gb", "a100-sxm4-80gb", "l4", "b200", "mi300x"}
    for r in res.rows:
        assert r.cost_usd == pytest.approx(r.gpu_hours * r.usd_per_gpu_hour)
        assert r.usd_per_m_tokens == pytest.approx(r.cost_usd / 2e11 * 1e6)
        assert r.price_date and r.gpus >= 1 and 0 < r.mfu < 1
        if r.market == "spot":
            assert r.spot_overhead > 0
    # spot rows take longer than the on-demand row of the same accelerator and count
    od = {(r.accelerator, r.gpus): r.days for r in res.rows if r.market == "on-demand"}
    for r in res.rows:
        if r.market == "spot":
            assert r.days > od[(r.accelerator, r.gpus)]
    # rows sorted by cost
    assert [r.cost_usd for r in res.rows] == sorted(r.cost_usd for r in res.rows)


def test_compare_matches_the_training_planner():
    """A compare row carries the same time as `flopwise train` for that accelerator and count."""
    from flopwise.catalog.systems import default_cluster
    from flopwise.plan.training import default_global_batch
    from flopwise.estimate.training import TrainingJob
    from flopwise.plan.training import plan_training

    m = get_model("llama-2-7b")
    res = compare_training(m, 2e11, bundled_catalog(), accelerators=["h100-sxm5-80gb"], clouds=["lambda"],
                           spot=False, workers=1)
    for r in res.rows:
        job = TrainingJob(m, default_cluster(get_accelerator("h100-sxm5-80gb")), default_global_batch(4096, r.gpus), 4096)
        est = plan_training(job, r.gpus, 2e11, 3.99)
        assert r.days == pytest.approx(est.days, rel=1e-9) and r.cost_usd == pytest.approx(est.cost_usd, rel=1e-9)


def test_compare_filters(small_compare):
    cheapest = min(r.cost_usd for r in small_compare.rows)
    limit = cheapest * 1.3
    res = compare_training(get_model("llama-2-7b"), 2e11, bundled_catalog(), max_usd=limit, max_days=30, workers=1,
                           accelerators=["h100-sxm5-80gb", "a100-sxm4-80gb", "l4", "b200", "mi300x"])
    assert res.rows and res.total_rows > len(res.rows)
    assert all(r.cost_usd <= limit and r.days <= 30 for r in res.rows)
    with pytest.raises(FlopwiseError, match="no prices for cloud"):
        compare_training(get_model("llama-2-7b"), 2e11, bundled_catalog(), clouds=["nosuchcloud"])


def test_compare_cli_llama3_70b_ranked_table_with_dates(cli):
    proc = cli("compare", "llama-3-70b", "--tokens", "2e12", "--no-skypilot", "--top", "40", check=True)
    out = proc.stdout
    assert "compare: train Llama 3 70B" in out and "Pareto front" in out
    assert "prices of" in out and "2025-11" in out and "2024 (est.)" in out
    for cloud in ("aws", "gcp", "lambda", "runpod", "azure"):
        assert cloud in out
    for acc in ("h100-sxm5-80gb", "b200", "a100-sxm4"):
        assert acc in out
    assert "--explain" in out


def test_compare_cli_max_usd_json_and_explain(cli):
    proc = cli("compare", "llama-2-7b", "--tokens", "1e11", "--max-usd", "3000", "--gpu", "h100-sxm5-80gb,a100-sxm4-80gb",
               "--json", check=True)
    res = json.loads(proc.stdout)
    assert res["rows"] and all(r["cost_usd"] <= 3000 for r in res["rows"])
    assert res["filters"]["max_usd"] == 3000
    proc = cli("compare", "llama-2-7b", "--tokens", "1e11", "--gpu", "h100-sxm5-80gb", "--explain", check=True)
    assert "assumptions" in proc.stdout and "spot:" in proc.stdout


def test_compare_serving_cli(cli):
    proc = cli("compare", "llama-3-8b", "--serve", "--input", "1000", "--output", "200", "--tpot", "50ms",
               "--gpu", "h100-sxm5-80gb,l4", "--json", check=True)
    res = json.loads(proc.stdout)
    assert res["mode"] == "serve" and res["rows"]
    for r in res["rows"]:
        assert r["tpot_s"] <= 0.05 + 1e-9 and r["usd_per_m_tokens"] > 0 and r["price_date"]
    assert any(r["pareto"] for r in res["rows"])


@pytest.mark.parametrize("args, needle", [
    (("compare", "llama-3-70b", "--tokens", "-5"), "--tokens"),
    (("compare", "llama-3-70b", "--tokens", "2e12", "--max-usd", "-1"), "--max-usd"),
    (("compare", "llama-3-70b"), "--tokens"),
    (("compare", "llama-3-70bb", "--tokens", "2e12"), "did you mean"),
    (("compare", "llama-3-70b", "--tokens", "2e12", "--clouds", "nocloud"), "no prices for cloud"),
    (("compare", "llama-3-70b", "--tokens", "2e12", "--prices", "/no/such/file.csv"), "does not exist"),
    (("compare", "llama-3-70b", "--tokens", "2e12", "--sort", "fast"), "--sort"),
    (("budget", "--gpu", "h100-sxm5-80gb"), "give a budget"),
    (("budget", "--gpu", "h100", "--usd", "1000", "--cloud", "nocloud"), "no catalog price"),
    (("tco", "--gpu", "h100-sxm5-80gb", "--years", "-3"), "--years"),
    (("tco", "--gpu", "tpu-v5e"), "purchase price"),
    (("energy", "--gpu", "h100-sxm5-80gb", "--gpus", "8"), "how long"),
    (("energy", "--gpu", "h100-sxm5-80gb", "--gpus", "8", "--days", "1", "--region", "atlantis"), "grid region"),
])
def test_bad_input_exits_2_with_one_line(cli, args, needle):
    proc = cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0]
    assert "Traceback" not in proc.stderr


def test_bad_price_file_cli(cli, tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("cloud,accelerator,usd_per_gpu_hour\nx,H100,cheap\n")
    proc = cli("compare", "llama-2-7b", "--tokens", "1e11", "--prices", str(f))
    assert proc.returncode == 2 and "line 2" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# ---- TCO ---------------------------------------------------------------------------------------------------

def h100_tco(**kw):
    power = PowerInputs(tdp_w=700, node_overhead_w=575, load_fraction=0.8, pue=1.2, usd_per_kwh=0.08)
    base = dict(accelerator="h100-sxm5-80gb", gpu_price_usd=30_000, power=power, rent_usd_per_gpu_hour=3.29)
    return TcoInputs(**(base | kw))


def test_tco_notes_worked_example():
    """NOTES §3.6: $35k all-in, 3 years, 80% utilisation → capital $1.66, power 1.3 kW x PUE 1.3 x $0.08 = $0.14."""
    power = PowerInputs(tdp_w=1300, node_overhead_w=0, load_fraction=1.0, pue=1.3, usd_per_kwh=0.08)
    r = tco(TcoInputs(accelerator="h100", gpu_price_usd=35_000, server_usd_per_gpu=0, power=power), 0.8)
    assert r.capital_usd_per_gpu_hour == pytest.approx(1.66, abs=0.01)
    assert r.electricity_usd_per_gpu_hour == pytest.approx(0.135, abs=0.001)
    assert r.owned_usd_per_gpu_hour == pytest.approx(1.80, abs=0.01)
    assert r.breakeven_utilization is None and r.buy_is_cheaper is None


def test_tco_breakeven_is_where_owning_costs_the_rent():
    inp = h100_tco()
    r = tco(inp, 0.8)
    parts = r.capital_usd_per_gpu_hour + r.electricity_usd_per_gpu_hour + r.colo_usd_per_gpu_hour + r.staff_usd_per_gpu_hour
    assert r.owned_usd_per_gpu_hour == pytest.approx(parts)
    u = r.breakeven_utilization
    assert 0 < u < 1
    assert tco(inp, u).owned_usd_per_gpu_hour == pytest.approx(3.29, rel=1e-9)
    assert tco(inp, min(1.0, u * 1.2)).owned_usd_per_gpu_hour < 3.29 < tco(inp, u * 0.8).owned_usd_per_gpu_hour
    # more use → cheaper owned hours; colocation, staff and a shorter life make owning dearer
    assert tco(inp, 0.5).owned_usd_per_gpu_hour > r.owned_usd_per_gpu_hour
    dearer = tco(h100_tco(colo_usd_per_kw_month=196, staff_usd_per_year=20_000, depreciation_years=2), 0.8)
    assert u < dearer.breakeven_utilization < 1
    never = tco(h100_tco(colo_usd_per_kw_month=196, staff_usd_per_year=150_000, depreciation_years=2), 0.8)
    assert never.breakeven_utilization is None and "never" in never.breakeven_note
    assert tco(h100_tco(rent_usd_per_gpu_hour=1.0), 0.8).breakeven_utilization is None  # never at $1/h
    assert any("PUE 1.20" in a for a in r.assumptions) and any("depreciation" in a for a in r.assumptions)


def test_tco_cli_explain(cli):
    proc = cli("tco", "--gpu", "h100-sxm5-80gb", "--rent-per-gpu-hour", "2.5", "--explain", check=True)
    assert "owned total" in proc.stdout and "utilization" in proc.stdout and "assumptions" in proc.stdout
    proc = cli("tco", "--gpu", "h100-sxm5-80gb", "--json", check=True)
    res = json.loads(proc.stdout)
    assert res["rent_usd_per_gpu_hour"] == pytest.approx(3.29) and 0 < res["breakeven_utilization"] < 1


# ---- energy and carbon ------------------------------------------------------------------------------------

def test_grid_intensity_regions():
    assert grid_intensity("us-central1").g_co2e_per_kwh == pytest.approx(412.72)  # GCP 2024 file
    assert grid_intensity("france").g_co2e_per_kwh == 56
    assert grid_intensity("eu-north-1").g_co2e_per_kwh == pytest.approx(35.4)
    assert grid_intensity("world").g_co2e_per_kwh == 481
    with pytest.raises(FlopwiseError, match="did you mean"):
        grid_intensity("us-central")
    assert node_overhead("h100-sxm5-80gb").watts_per_gpu == 575
    assert node_overhead("rtx-4090").watts_per_gpu == 150


def test_energy_of_a_cluster():
    p = PowerInputs(tdp_w=700, node_overhead_w=575, load_fraction=0.8, pue=1.2, usd_per_kwh=0.08, grid_g_per_kwh=400)
    e = energy(16_384, 54 * 24, p)
    it_w = 700 * 0.8 + 575
    assert e.it_kw == pytest.approx(16_384 * it_w / 1e3)
    assert e.facility_mw == pytest.approx(16_384 * it_w * 1.2 / 1e6)  # ≈ 22 MW for a Llama-3-sized cluster
    assert 20 < e.facility_mw < 25
    assert e.energy_kwh == pytest.approx(e.facility_kw * 54 * 24)
    assert e.co2e_tonnes == pytest.approx(e.energy_kwh * 400 / 1e6)
    assert e.electricity_usd == pytest.approx(e.energy_kwh * 0.08)


def test_energy_cli_training_run_and_year_of_serving(cli):
    proc = cli("energy", "--gpu", "h100-sxm5-80gb", "--gpus", "1024", "--model", "llama-3-70b", "--tokens", "2e12",
               "--region", "us-central1", "--json", check=True)
    res = json.loads(proc.stdout)
    assert res["grid_g_per_kwh"] == pytest.approx(412.72) and 1.0 < res["facility_mw"] < 2.0
    assert res["co2e_tonnes"] == pytest.approx(res["energy_kwh"] * 412.72 / 1e6)
    proc = cli("energy", "--gpu", "l4", "--gpus", "4", "--years", "1", "--utilization", "0.5", "--explain", check=True)
    assert "tCO2e" in proc.stdout and "assumptions" in proc.stdout and "PUE 1.20" in proc.stdout


# ---- spot ------------------------------------------------------------------------------------------------

def test_spot_overhead():
    day = 86400.0
    none = spot_overhead(30 * day, 64, 8, 7e9, interruptions_per_node_month=0)
    assert none.overhead_fraction == 0
    small = spot_overhead(30 * day, 8, 8, 7e9)
    big = spot_overhead(30 * day, 1024, 8, 7e9)
    assert 0 < small.overhead_fraction < big.overhead_fraction
    # first-order check (Young/Daly): overhead ≈ δ/τ + (τ/2 + R)/M when δ, R << M
    o = big
    approx = o.checkpoint_write_s / o.checkpoint_interval_s + (o.checkpoint_interval_s / 2 + o.restart_s) / o.mtbf_job_s
    assert o.overhead_fraction == pytest.approx(approx, rel=0.15)
    assert o.expected_interruptions == pytest.approx(o.expected_s / o.mtbf_job_s)
    hopeless = spot_overhead(30 * day, 8192, 8, 1e12, interruptions_per_node_month=5.0, restart_s=4 * 3600)
    assert not hopeless.feasible


# ---- budget -----------------------------------------------------------------------------------------------

def test_budget_usd_on_lambda():
    from flopwise.plan.budget import budget

    r = budget("h100-sxm5-80gb", usd=1000, cloud="lambda")
    assert r.usd_per_gpu_hour == pytest.approx(3.99) and r.price_date == "2025-11"
    assert r.gpu_hours == pytest.approx(1000 / 3.99)
    assert r.flops == pytest.approx(r.gpu_hours * 3600 * 989.4e12 * r.mfu)
    p = r.pretrain
    assert 6 * p.params * p.tokens == pytest.approx(r.flops, rel=1e-6)  # C = 6·N·D on the frontier
    assert 1e9 < p.params < 3e9 and 15 < p.tokens / p.params < 25  # ~20 tokens per parameter
    f = r.finetune
    assert f.model is not None and f.model_params <= f.compute_bound_params
    assert f.compute_bound_params == pytest.approx(r.flops / (6 * 1e9))
    assert r.serve.tokens == pytest.approx(r.gpu_hours * 3600 * r.serve.tokens_per_s_per_gpu)
    assert r.serve.usd_per_m_tokens > 0


def test_budget_gpus_days_cli(cli):
    proc = cli("budget", "--gpus", "8", "--days", "1", "--gpu", "h100-sxm5-80gb", "--explain", check=True)
    out = proc.stdout
    assert "192 GPU-hours" in out and "pre-train" in out and "fine-tune" in out and "serve" in out
    assert "prices of 2025-11" in out and "assumptions" in out
    proc = cli("budget", "--usd", "1000", "--gpu", "h100-sxm5-80gb", "--cloud", "lambda", "--json", check=True)
    res = json.loads(proc.stdout)
    assert res["gpu_hours"] == pytest.approx(1000 / 3.99) and res["pretrain"]["params"] > 1e9


def test_run_cost_rejects_bad_inputs():
    with pytest.raises(FlopwiseError):
        run_cost(1e23, 312e12, 1.5)
    with pytest.raises(FlopwiseError):
        run_cost(-1, 312e12, 0.5)
    assert math.isclose(run_cost(3.6e15, 1e12, 1.0).gpu_hours, 1.0)


def test_compare_worker_processes_give_the_same_rows():
    kw = dict(accelerators=["h100-sxm5-80gb", "l4", "mi300x"], clouds=["aws", "runpod"])
    serial = compare_training(get_model("llama-2-7b"), 1e11, bundled_catalog(), workers=1, **kw)
    forked = compare_training(get_model("llama-2-7b"), 1e11, bundled_catalog(), workers=2, **kw)
    assert [r.model_dump() for r in serial.rows] == [r.model_dump() for r in forked.rows]


def test_grid_command_lists_regions(cli):
    proc = cli("grid", "--json", check=True)
    regions = {r["region"]: r["g_co2e_per_kwh"] for r in json.loads(proc.stdout)}
    assert regions["us-central1"] == pytest.approx(412.72) and regions["norway"] == 30
