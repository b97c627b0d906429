"""Failure model, checkpoint interval, goodput and Monte Carlo, checked against Llama 3 and Young/Daly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from flopwise.catalog._files import load_yaml
from flopwise.catalog.failures import (
    COMPONENTS,
    FailureModel,
    failure_model_ids,
    get_failure_model,
    load_failure_model,
)
from flopwise.errors import FlopwiseError
from flopwise.estimate.reliability import (
    DEFAULT_QUEUE_WAIT_S_PER_RESUBMIT,
    PROGRESS_MIN_RUNS,
    ReliabilityInputs,
    checkpoint_bytes,
    daly_interval_s,
    estimate_reliability,
    simulate,
    young_interval_s,
)

DAY = 86400.0
HOUR = 3600.0

# Llama 3 (Dubey et al. 2024, §3.3.4, Table 5): 16,384 H100, 54-day snapshot, 419 unexpected interruptions.
LLAMA3_GPUS = 16384
LLAMA3_DAYS = 54
LLAMA3_UNEXPECTED = 419
LLAMA3_PLANNED = 47


def rel(a: float, b: float) -> float:
    return abs(a / b - 1.0)


@pytest.fixture(scope="module")
def llama3():
    return get_failure_model()


def llama_inputs(fm: FailureModel, ideal_days: float = LLAMA3_DAYS, **kw) -> ReliabilityInputs:
    return ReliabilityInputs(
        n_gpus=LLAMA3_GPUS,
        gpus_per_node=8,
        ideal_train_s=ideal_days * DAY,
        checkpoint_bytes=checkpoint_bytes(405e9),
        failure_model=fm,
        **kw,
    )


# ---- the bundled failure model ---------------------------------------------------------------------


def test_bundled_model_is_llama3_table5(llama3):
    assert llama3.id == "llama3-405b-h100"
    assert failure_model_ids()[0] == llama3.id
    assert "Llama 3" in llama3.source and "Table 5" in llama3.source
    assert llama3.exposure_gpus == LLAMA3_GPUS and llama3.exposure_days == LLAMA3_DAYS
    counts = {c.name: c.count for c in llama3.causes}
    assert sum(counts.values()) == LLAMA3_UNEXPECTED
    assert counts["Faulty GPU"] == 148 and counts["GPU HBM3 Memory"] == 72
    assert counts["Software Bug"] == 54 and counts["Network Switch/Cable"] == 35
    assert counts["Host Maintenance"] == 32 and counts["Silent Data Corruption"] == 6
    # rate per GPU-hour = 419 / (16,384 x 54 x 24 GPU-hours)
    assert llama3.rate_per_gpu_hour == pytest.approx(419 / (16384 * 54 * 24), rel=1e-12)
    assert llama3.mtbf_gpu_hours == pytest.approx(50_677, rel=1e-3)
    assert llama3.planned_per_job_day == pytest.approx(LLAMA3_PLANNED / LLAMA3_DAYS)


def test_yaml_rates_match_counts_and_components_cover_all():
    entry = load_yaml("failure_rates.yaml")[0]
    gpu_hours = entry["exposure"]["gpus"] * entry["exposure"]["days"] * 24
    for c in entry["causes"]:
        assert c["rate_per_gpu_hour"] == pytest.approx(c["count"] / gpu_hours, rel=1e-3), c["name"]
        assert c["component"] in COMPONENTS
    by_comp = get_failure_model().rate_by_component()
    assert set(by_comp) == set(COMPONENTS)
    assert sum(by_comp.values()) == pytest.approx(get_failure_model().rate_per_gpu_hour)


def test_unknown_model_id_has_close_matches():
    with pytest.raises(FlopwiseError, match="llama3-405b-h100"):
        get_failure_model("llama3-405b")


def test_user_override_file_with_counts(tmp_path: Path):
    f = tmp_path / "fleet.yaml"
    f.write_text(
        "id: my-fleet\nsource: our ops log 2025\nexposure: {gpus: 1024, days: 30}\nplanned_count: 3\n"
        "causes:\n  - {name: GPU, component: gpu, count: 10}\n  - {name: IB link, component: network, count: 5}\n"
    )
    fm = load_failure_model(f)
    assert fm.id == "my-fleet"
    assert fm.rate_per_gpu_hour == pytest.approx(15 / (1024 * 30 * 24))
    assert fm.rate_by_component() == pytest.approx({"gpu": 10 / (1024 * 720), "network": 5 / (1024 * 720)})
    assert fm.planned_per_job_day == pytest.approx(0.1)


def test_user_override_total_rate_and_list(tmp_path: Path):
    one = tmp_path / "one.yaml"
    one.write_text("rate_per_gpu_hour: 1.0e-5\n")
    assert load_failure_model(one).rate_per_gpu_hour == 1.0e-5
    many = tmp_path / "many.yaml"
    many.write_text("- {id: a, rate_per_gpu_hour: 1.0e-5}\n- {id: b, rate_per_gpu_hour: 2.0e-5}\n")
    assert load_failure_model(many, "b").rate_per_gpu_hour == 2.0e-5
    assert load_failure_model(many).id == "a"
    assert FailureModel.from_rate(3e-5).rate_per_gpu_hour == 3e-5
    assert get_failure_model().scaled(2.0).rate_per_gpu_hour == pytest.approx(2 * get_failure_model().rate_per_gpu_hour)


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "causes: [{name: GPU, component: gpu, count: 10, rate_per_gpu_hour: 1.0}]\nexposure: {gpus: 8, days: 1}\n",
            "does not match",
        ),
        ("causes: [{name: GPU, component: toaster, rate_per_gpu_hour: 1.0e-5}]\n", "component"),
        ("causes: [{name: GPU, component: gpu, count: 10}]\n", "exposure"),
        ("causes: [{name: GPU, rate_per_gpu_hour: -1}]\n", ">= 0"),
        ("just a string\n", "mapping"),
        ("causes: [unclosed\n", "not valid YAML"),
        ("id: x\n", "causes"),
    ],
)
def test_bad_user_files_get_one_clear_error(tmp_path: Path, text: str, message: str):
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(FlopwiseError, match=message):
        load_failure_model(f)


# ---- checkpoint size ---------------------------------------------------------------------------------


def test_checkpoint_bytes():
    assert checkpoint_bytes(405e9) == pytest.approx(405e9 * 14)  # bf16 weights + fp32 master + Adam m, v
    assert checkpoint_bytes(1e9, optimizer_bytes_per_param=0.0, weight_bytes=2.0) == 2e9
    with pytest.raises(FlopwiseError):
        checkpoint_bytes(-1.0)


# ---- Llama 3 405B reproduction -------------------------------------------------------------------------


def test_llama3_54_days_ideal(llama3):
    """The brief's case: 405B, 16,384 H100, 54 days of failure-free training."""
    est = estimate_reliability(llama_inputs(llama3))
    assert rel(est.expected_interruptions, LLAMA3_UNEXPECTED) < 0.10
    assert est.goodput > 0.90
    assert est.mtbf_job_s / HOUR == pytest.approx(54 * 24 / 419, rel=1e-9)  # "one failure every ~3 hours"
    assert 2.9 < est.mtbf_job_s / HOUR < 3.2
    assert sum(est.expected_interruptions_by_cause.values()) == pytest.approx(est.expected_interruptions)
    assert sum(est.expected_interruptions_by_root_cause.values()) == pytest.approx(est.expected_interruptions)
    assert est.expected_interruptions_by_cause["hbm"] / est.expected_interruptions == pytest.approx(72 / 419)
    # checkpoint: 5.67 TB over 2,048 nodes at 1 GB/s each (~Tectonic's 2 TB/s sustained): ~2.8 s
    assert est.checkpoint_write_s == pytest.approx(405e9 * 14 / (2048 * 1e9))


def test_llama3_snapshot_54_days_wall(llama3):
    """Choose the failure-free time so the expected wall time is the 54-day snapshot: 419 interruptions, >90%."""
    ideal = LLAMA3_DAYS
    for _ in range(50):
        est = estimate_reliability(llama_inputs(llama3, ideal, include_planned=True))
        ideal *= LLAMA3_DAYS / est.expected_days
    assert est.expected_days == pytest.approx(LLAMA3_DAYS, rel=1e-6)
    # planned interruptions take a little of the 54 days, so slightly fewer unexpected ones fall in them
    assert rel(est.expected_interruptions, LLAMA3_UNEXPECTED) < 0.01
    assert rel(est.expected_planned_interruptions, LLAMA3_PLANNED) < 0.01
    assert est.goodput > 0.90  # the paper: "higher than 90% effective training time"
    assert est.goodput < 0.97  # ... and not implausibly close to 100%


# ---- the checkpoint interval: Young 1974 and Daly 2006 ---------------------------------------------------


def test_young_formula():
    assert young_interval_s(60.0, 4 * HOUR) == pytest.approx(math.sqrt(2 * 60.0 * 4 * HOUR))
    assert young_interval_s(300.0, 24 * HOUR) == pytest.approx(7200.0)  # sqrt(2 * 300 * 86400) = 7200


def test_estimate_reports_young_and_uses_it_when_asked(llama3):
    inp = llama_inputs(llama3, interval_method="young")
    est = estimate_reliability(inp)
    assert est.young_interval_s == pytest.approx(math.sqrt(2 * est.checkpoint_write_s * est.mtbf_job_s))
    assert est.optimal_interval_s == pytest.approx(est.young_interval_s)
    assert est.interval_method == "young"
    daly = estimate_reliability(llama_inputs(llama3))
    assert daly.interval_method == "daly"
    assert daly.optimal_interval_s == pytest.approx(daly_interval_s(daly.checkpoint_write_s, daly.mtbf_job_s))


def test_daly_refinement():
    d, m = 300.0, 24 * HOUR
    x = d / (2 * m)
    assert daly_interval_s(d, m) == pytest.approx(math.sqrt(2 * d * m) * (1 + math.sqrt(x) / 3 + x / 9) - d)
    assert daly_interval_s(5.0, 1e7) == pytest.approx(young_interval_s(5.0, 1e7), rel=2e-3)  # delta << M
    assert daly_interval_s(3 * HOUR, HOUR) == HOUR  # delta >= 2M: checkpoint every M


def test_daly_interval_is_near_the_numeric_optimum(llama3):
    """The expected wall time over a grid of intervals is lowest close to Daly's (and Young's) interval."""
    fm = llama3.scaled(20.0)  # make failures matter: MTBF ~9 min on 16k GPUs -> use 1,024 GPUs
    base = ReliabilityInputs(
        n_gpus=1024, ideal_train_s=30 * DAY, checkpoint_bytes=checkpoint_bytes(70e9), failure_model=fm,
        storage_bw_bytes_per_s_per_node=0.5e9,
    )
    est = estimate_reliability(base)
    grid = [est.daly_interval_s * 1.02**k for k in range(-60, 61)]
    walls = [estimate_reliability(base.model_copy(update={"checkpoint_interval_s": t})).expected_wall_s for t in grid]
    best = grid[walls.index(min(walls))]
    assert rel(est.optimal_interval_s, best) < 0.05
    assert est.expected_wall_s <= min(walls) * (1 + 1e-4)
    young = estimate_reliability(base.model_copy(update={"interval_method": "young"}))
    assert young.expected_wall_s <= min(walls) * (1 + 2e-3)


def test_analytic_reduces_to_daly_cost_function(llama3):
    """Synchronous checkpoints: expected time = M e^{R/M} (e^{(tau+delta)/M} - 1) T_s / tau (Daly 2006)."""
    inp = ReliabilityInputs(
        n_gpus=4096, ideal_train_s=60 * DAY, checkpoint_bytes=checkpoint_bytes(175e9), failure_model=llama3.scaled(3.0),
        storage_bw_bytes_per_s_per_node=0.25e9, restart_overhead_s=900.0,
    )
    est = estimate_reliability(inp)
    m, r, d, t = est.mtbf_job_s, est.restart_s_per_interruption, est.checkpoint_write_s, est.optimal_interval_s
    daly_tw = m * math.exp(r / m) * math.expm1((t + d) / m) * inp.ideal_train_s / t
    assert rel(est.expected_running_s, daly_tw) < 0.005


# ---- goodput and lost time ---------------------------------------------------------------------------


def test_lost_time_breakdown_adds_up(llama3):
    inp = llama_inputs(llama3, include_planned=True, max_job_hours=48)
    est = estimate_reliability(inp)
    parts = est.ideal_train_s + est.checkpoint_overhead_s + est.rework_s + est.restart_s + est.queue_s
    assert parts == pytest.approx(est.expected_wall_s, rel=1e-9)
    assert est.restart_s == pytest.approx(est.failure_restart_s + est.planned_restart_s + est.resubmit_restart_s)
    assert min(est.checkpoint_overhead_s, est.rework_s, est.failure_restart_s, est.queue_s) > 0
    assert est.goodput == pytest.approx(est.ideal_train_s / est.expected_wall_s)
    assert est.expected_gpu_hours == pytest.approx(est.expected_running_s * LLAMA3_GPUS / HOUR)


def test_more_gpus_more_interruptions(llama3):
    prev = 0.0
    for n in (8, 64, 512, 4096, 32768):
        est = estimate_reliability(
            ReliabilityInputs(n_gpus=n, ideal_train_s=10 * DAY, checkpoint_bytes=checkpoint_bytes(8e9), failure_model=llama3)
        )
        assert est.expected_interruptions > prev
        prev = est.expected_interruptions
    # expected interruptions grow with GPUs x hours: ~ rate x GPUs x running hours
    assert prev == pytest.approx(llama3.rate_per_gpu_hour * 32768 * est.expected_running_s / HOUR)


def test_async_and_in_memory_checkpoints_raise_goodput(llama3):
    sync = estimate_reliability(llama_inputs(llama3))
    asyn = estimate_reliability(llama_inputs(llama3, async_checkpoint=True))
    mem = estimate_reliability(llama_inputs(llama3, in_memory_checkpoint=True))
    assert asyn.goodput > sync.goodput
    assert mem.goodput >= asyn.goodput
    assert asyn.checkpoint_blocking_s < sync.checkpoint_blocking_s
    assert asyn.optimal_interval_s >= asyn.checkpoint_write_s  # the next async write waits for the last
    assert (sync.checkpoint_mode, asyn.checkpoint_mode, mem.checkpoint_mode) == ("sync", "async", "in-memory")


def test_restart_overhead_and_slow_storage_cost_goodput(llama3):
    base = estimate_reliability(llama_inputs(llama3))
    slow_restart = estimate_reliability(llama_inputs(llama3, restart_overhead_s=1800.0))
    slow_storage = estimate_reliability(llama_inputs(llama3, storage_bw_bytes_per_s_total=0.2e12))
    assert slow_restart.goodput < base.goodput
    assert slow_storage.goodput < base.goodput
    assert slow_storage.checkpoint_write_s == pytest.approx(405e9 * 14 / 0.2e12)


def test_job_length_limit_adds_resubmissions(llama3):
    free = estimate_reliability(llama_inputs(llama3))
    limited = estimate_reliability(llama_inputs(llama3, max_job_hours=48))
    rough = math.ceil(limited.expected_running_s / (48 * HOUR)) - 1
    assert abs(limited.resubmissions - rough) <= 1
    assert limited.resubmissions >= math.ceil(free.expected_running_s / (48 * HOUR)) - 1
    assert limited.queue_s == pytest.approx(limited.resubmissions * DEFAULT_QUEUE_WAIT_S_PER_RESUBMIT)
    assert limited.goodput < free.goodput
    short = estimate_reliability(llama_inputs(llama3, ideal_days=1.0, max_job_hours=48))
    assert short.resubmissions == 0 and short.queue_s == 0


def test_job_limit_too_short_is_refused(llama3):
    with pytest.raises(FlopwiseError, match="too short"):
        estimate_reliability(llama_inputs(llama3, max_job_hours=0.1))


def test_zero_failure_rate_leaves_only_checkpoints():
    inp = ReliabilityInputs(
        n_gpus=64, ideal_train_s=7 * DAY, checkpoint_bytes=checkpoint_bytes(70e9), failure_model=FailureModel.from_rate(0.0)
    )
    est = estimate_reliability(inp)
    assert est.expected_interruptions == 0
    assert est.n_checkpoints == 1
    assert est.expected_wall_s == pytest.approx(inp.ideal_train_s + est.checkpoint_write_s)


def test_step_time_puts_checkpoints_on_whole_steps(llama3):
    est = estimate_reliability(llama_inputs(llama3, step_s=6.0))
    assert est.checkpoint_every_steps is not None
    assert est.optimal_interval_s == pytest.approx(6.0 * est.checkpoint_every_steps)


def test_hopeless_job_is_reported_not_crashed(llama3):
    inp = ReliabilityInputs(
        n_gpus=1_000_000, ideal_train_s=365 * DAY, checkpoint_bytes=checkpoint_bytes(10e12),
        storage_bw_bytes_per_s_total=1e10, failure_model=llama3.scaled(10.0),
    )
    est = estimate_reliability(inp)
    assert est.goodput < 1e-6
    assert est.notes
    with pytest.raises(FlopwiseError, match="never completes"):
        simulate(inp, 10)


# ---- Monte Carlo -------------------------------------------------------------------------------------


SIM_CASES = {
    "llama3-sync": dict(n_gpus=16384, ideal_train_s=54 * DAY, params=405e9),
    "70b-1024gpu": dict(n_gpus=1024, ideal_train_s=30 * DAY, params=70e9),
    "flaky-async": dict(n_gpus=2048, ideal_train_s=20 * DAY, params=175e9, scale=8.0, async_checkpoint=True),
    "flaky-limit-planned": dict(n_gpus=2048, ideal_train_s=20 * DAY, params=175e9, scale=8.0, max_job_hours=24,
                                include_planned=True),
    "restarts-fail-too": dict(n_gpus=8192, ideal_train_s=5 * DAY, params=70e9, scale=30.0, restart_overhead_s=1200.0),
}


def sim_inputs(fm: FailureModel, params: float, scale: float = 1.0, **kw) -> ReliabilityInputs:
    return ReliabilityInputs(checkpoint_bytes=checkpoint_bytes(params), failure_model=fm.scaled(scale), **kw)


@pytest.mark.parametrize("name", list(SIM_CASES))
def test_simulated_mean_matches_analytic(llama3, name):
    inp = sim_inputs(llama3, **SIM_CASES[name])
    est = estimate_reliability(inp)
    sim = simulate(inp, 4000, seed=7)
    assert sim.analytic_mean_s == pytest.approx(est.expected_wall_s)
    assert abs(sim.relative_error_vs_analytic) < 0.05  # the acceptance bar
    assert abs(sim.relative_error_vs_analytic) < 0.01  # what the exact model actually achieves
    assert sim.mean_interruptions == pytest.approx(est.expected_interruptions, rel=0.05, abs=0.2)
    assert sim.min_s <= sim.p50_s <= sim.p90_s <= sim.p99_s <= sim.max_s
    assert sim.min_s >= inp.ideal_train_s


def test_simulation_is_reproducible_and_spread_is_sane(llama3):
    inp = sim_inputs(llama3, n_gpus=1024, ideal_train_s=30 * DAY, params=70e9, scale=5.0)
    a, b = simulate(inp, 3000, seed=3), simulate(inp, 3000, seed=3)
    assert a.mean_s == b.mean_s and a.p90_s == b.p90_s
    c = simulate(inp, 3000, seed=4)
    assert c.mean_s != a.mean_s
    assert a.p90_s > a.p50_s and a.std_s > 0
    kept = simulate(inp, 50, keep_samples=True)
    assert kept.samples_s is not None and len(kept.samples_s) == 50


def test_simulation_with_progress_bar(llama3):
    inp = sim_inputs(llama3, n_gpus=512, ideal_train_s=7 * DAY, params=8e9)
    sim = simulate(inp, PROGRESS_MIN_RUNS, progress=True)
    assert sim.n == PROGRESS_MIN_RUNS
    assert abs(sim.relative_error_vs_analytic) < 0.05


def test_simulate_rejects_bad_n(llama3):
    with pytest.raises(FlopwiseError):
        simulate(llama_inputs(llama3), 0)
