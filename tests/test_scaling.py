"""`flopwise scale` and estimate/scaling.py, checked against published numbers.

References (numbers copied from the papers, tolerances stated per test):
- Hoffmann et al. 2022 (arXiv:2203.15556): Table 3 (approach 1 projections), Table A3 (approaches 2 and 3),
  Table 2 (exponents), App. D.2 eq. 10 (parametric fit), App. D.4 (2.86B vs Kaplan's 4.68B at 1e21 FLOPs),
  Figure 4 (40B at the Gopher budget), §4 (Chinchilla 70B / 1.4T vs Gopher 280B / 300B, same budget).
- Kaplan et al. 2020 (arXiv:2001.08361): N_opt ∝ C^0.73, quoted by Hoffmann et al. as 5.5x model, 1.8x data per 10x.
- Sardana et al. 2023 (arXiv:2401.00448), Figure 1: a 13B (Chinchilla-optimal) model with 2T inference tokens
  is better replaced by a 7B model trained on more data, saving 1.7e22 FLOPs (17%) of total compute.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flopwise.cli.main import app
from flopwise.errors import FlopwiseError
from flopwise.estimate import scaling as sc

runner = CliRunner()
GOPHER_FLOPS = 5.76e23


def rel(a: float, b: float) -> float:
    return abs(a / b - 1.0)


def scale_json(*args: str) -> dict:
    res = runner.invoke(app, ["scale", *args, "--json"])
    assert res.exit_code == 0, (res.output, res.exception)
    return json.loads(res.stdout)


# ---- Hoffmann et al. 2022, Table 3 (approach 1) ------------------------------------------------------------
# parameters, FLOPs, FLOPs in Gopher units, tokens
TABLE3 = [
    (400e6, 1.92e19, 1 / 29968, 8.0e9),
    (1e9, 1.21e20, 1 / 4761, 20.2e9),
    (10e9, 1.23e22, 1 / 46, 205.1e9),
    (67e9, 5.76e23, 1.0, 1.5e12),
    (175e9, 3.85e24, 6.7, 3.7e12),
    (280e9, 9.90e24, 17.2, 5.9e12),
    (520e9, 3.43e25, 59.5, 11.0e12),
    (1e12, 1.27e26, 221.3, 21.2e12),
    (10e12, 1.30e28, 22515.9, 216.2e12),
]
# Table A3: parameters, approach 2 (FLOPs, tokens), approach 3 (FLOPs, tokens). The approach-3 175B FLOPs are
# printed as 1.26e24, a typo for 1.26e25 (= 6 · 175e9 · 12.0e12); corrected here.
TABLE_A3 = [
    (400e6, 1.84e19, 7.7e9, 2.21e19, 9.2e9),
    (1e9, 1.20e20, 20.0e9, 1.62e20, 27.1e9),
    (10e9, 1.32e22, 219.5e9, 2.46e22, 410.1e9),
    (67e9, 6.88e23, 1.7e12, 1.71e24, 4.1e12),
    (175e9, 4.54e24, 4.3e12, 1.26e25, 12.0e12),
    (280e9, 1.18e25, 7.1e12, 3.52e25, 20.1e12),
    (520e9, 4.19e25, 13.4e12, 1.36e26, 43.5e12),
    (1e12, 1.59e26, 26.5e12, 5.65e26, 94.1e12),
    (10e12, 1.75e28, 292.0e12, 8.55e28, 1425.5e12),
]

TOL = 0.05
# The 67B row is not self-consistent: 6 · 67e9 · 1.5e12 = 6.03e23 is 4.7% above its own 5.76e23 FLOPs, so no law
# with C = 6ND can meet all three of its numbers to better than ~2.3% each; with the fit's FLOPs 2% low the
# tokens come out 6.5% low. Tolerance for that one token figure: 7%.
TOL_67B_TOKENS = 0.07


def test_table3_row_67b_is_internally_inconsistent():
    n, c, _, d = TABLE3[3]
    assert 6 * n * d / c == pytest.approx(1.047, abs=0.001)
    for n, c, _, d in TABLE3[:3] + TABLE3[4:]:
        assert rel(6 * n * d, c) < 0.01  # every other row obeys C = 6ND to 1%


@pytest.mark.parametrize("n, flops, units, tokens", TABLE3, ids=[f"{r[0]:.0e}" for r in TABLE3])
def test_default_law_reproduces_table3(n, flops, units, tokens):
    law = sc.get_law(sc.DEFAULT_LAW)
    assert law.id == "chinchilla-1"
    c = law.compute_for_params(n)
    assert rel(c, flops) < TOL, f"FLOPs {c:.3e} vs Table 3 {flops:.3e}"
    assert rel(c / GOPHER_FLOPS, units) < TOL, f"Gopher units {c / GOPHER_FLOPS:.4g} vs {units:.4g}"
    tol = TOL_67B_TOKENS if n == 67e9 else TOL
    assert rel(law.tokens_for_compute(c), tokens) < tol, f"tokens {law.tokens_for_compute(c):.3e} vs {tokens:.3e}"


def test_table3_headline_rows_through_plan_scaling():
    law = sc.get_law("chinchilla")
    r = sc.plan_scaling(law, params=1e12, with_plots=False)
    assert rel(r.flops, 1.27e26) < TOL and rel(r.tokens, 21.2e12) < TOL and rel(r.gopher_units, 221.3) < TOL
    r = sc.plan_scaling(law, params=10e12, with_plots=False)
    assert rel(r.flops, 1.30e28) < TOL and rel(r.tokens, 216.2e12) < TOL and rel(r.gopher_units, 22515.9) < TOL
    # the other direction: from the Table 3 budget back to the model size
    r = sc.plan_scaling(law, compute=1.27e26, with_plots=False)
    assert rel(r.params, 1e12) < TOL


def test_approach1_constants_are_the_fit_to_table3_and_inside_the_published_range():
    a, n21 = sc.fit_frontier([(n, c, d) for n, c, _, d in TABLE3])
    law = sc.get_law("chinchilla-1")
    assert a == pytest.approx(law.exponent, abs=5e-4)
    assert n21 == pytest.approx(law.params_for_compute(1e21), rel=5e-3)
    assert 0.488 <= law.exponent <= 0.502  # Table 2: a = 0.50 (0.488, 0.502)
    # Independent published number (not in Table 3): App. D.4, approach 1 gives 2.86B at 1e21 FLOPs.
    assert rel(law.params_for_compute(1e21), 2.86e9) < TOL


@pytest.mark.parametrize("row", TABLE_A3, ids=[f"{r[0]:.0e}" for r in TABLE_A3])
def test_approach2_reproduces_table_a3(row):
    n, c2, d2, _, _ = row
    law = sc.get_law("chinchilla-2")
    c = law.compute_for_params(n)
    # 67B row: off the power law through the other eight rows by 6% in the paper itself (Table 3 has the same
    # oddity); 7% there, 5% elsewhere.
    tol = 0.07 if n == 67e9 else TOL
    assert rel(c, c2) < tol and rel(law.tokens_for_compute(c), d2) < tol
    assert 0.462 <= law.exponent <= 0.534  # Table 2: a = 0.49 (0.462, 0.534)


# ---- approach 3 ---------------------------------------------------------------------------------------------

def loss_eq10(n: float, d: float) -> float:
    return 1.69 + 406.4 / n**0.34 + 410.7 / d**0.28


def isoflop_argmin(loss, c: float) -> float:
    """Brute-force minimum of loss(N, C/6N) over a fine log grid (independent of the closed form)."""
    best = None
    lo, hi = math.log(1e6), math.log(1e15)
    for i in range(20001):
        x = lo + (hi - lo) * i / 20000
        n = math.exp(x)
        v = loss(n, c / (6 * n))
        if best is None or v < best[0]:
            best = (v, n)
    return best[1]


def test_approach3_is_the_printed_fit_and_its_frontier_is_the_isoflop_minimum():
    law = sc.get_law("chinchilla-3")
    for n, d in ((1e9, 2e10), (70e9, 1.4e12), (280e9, 300e9)):
        assert law.loss(n, d) == pytest.approx(loss_eq10(n, d), rel=1e-12)
    for c in (1e20, GOPHER_FLOPS, 1e26):
        assert rel(law.params_for_compute(c), isoflop_argmin(loss_eq10, c)) < 0.005
    # the rounding of the printed exponents: a = 0.28 / 0.62 = 0.452, not the 0.46 of Table 2, so the printed fit
    # puts 1T parameters at about twice the tokens of the paper's own Table A3 (94.1T). Documented, not hidden.
    assert law.exponent == pytest.approx(0.4516, abs=1e-4)
    assert law.tokens_for_compute(law.compute_for_params(1e12)) / 94.1e12 > 1.5


@pytest.mark.parametrize("row", TABLE_A3, ids=[f"{r[0]:.0e}" for r in TABLE_A3])
def test_approach3_with_three_digit_exponents_reproduces_table_a3_within_10pct(row):
    n, _, _, c3, d3 = row
    law = sc.get_law("chinchilla-3-sardana")
    c = law.compute_for_params(n)
    assert rel(c, c3) < 0.10 and rel(law.tokens_for_compute(c), d3) < 0.10


def test_approach3_optimum_at_gopher_budget_is_40b_figure4():
    assert rel(sc.get_law("chinchilla-3-sardana").params_for_compute(GOPHER_FLOPS), 40e9) < TOL
    # §4: "the optimal model size for the Gopher compute budget is somewhere between 40 and 70 billion parameters"
    for lid in ("chinchilla-1", "chinchilla-2", "chinchilla-3-sardana"):
        assert 38e9 < sc.get_law(lid).params_for_compute(GOPHER_FLOPS) < 70e9


# ---- Kaplan et al. 2020 ---------------------------------------------------------------------------------------

def test_kaplan_10x_compute_is_5_5x_model_1_8x_data():
    law = sc.get_law("kaplan")
    n_ratio = law.params_for_compute(1e23) / law.params_for_compute(1e22)
    d_ratio = law.tokens_for_compute(1e23) / law.tokens_for_compute(1e22)
    assert rel(n_ratio, 5.5) < TOL and rel(d_ratio, 1.8) < TOL


def test_kaplan_at_1e21_flops_is_4_68b_as_hoffmann_app_d4():
    assert rel(sc.get_law("kaplan").params_for_compute(1e21), 4.68e9) < 0.01


def test_kaplan_loss_is_eq_1_5():
    law = sc.get_law("kaplan")
    n, d = 1.5e9, 2.3e10
    assert law.loss(n, d) == pytest.approx(((8.8e13 / n) ** (0.076 / 0.095) + 5.4e13 / d) ** 0.095, rel=1e-12)


# ---- Gopher vs Chinchilla -------------------------------------------------------------------------------------

def test_chinchilla_is_the_compute_optimal_model_for_gophers_budget():
    law = sc.get_law("chinchilla-1")
    r = sc.plan_scaling(law, compute=GOPHER_FLOPS, with_plots=False)
    assert rel(r.params, 67e9) < TOL  # Table 3, "1 Gopher unit" row
    assert rel(r.params, 70e9) < TOL and rel(r.tokens, 1.4e12) < TOL  # §4: Chinchilla 70B on 1.4T tokens
    # "Chinchilla ... uses the same compute budget as Gopher but ... 4x smaller" (280B vs 70B)
    assert rel(280e9 / r.params, 4.0) < TOL


def test_gopher_vs_chinchilla_comparison():
    law = sc.get_law("chinchilla-1")
    gopher = sc.compare_model(law, "gopher-280b", 280e9, 300e9)
    chin = sc.compare_model(law, "chinchilla-70b", 70e9, 1.4e12)
    # Chinchilla sits on the frontier of the law fitted by the same paper
    assert rel(chin.params_ratio, 1.0) < TOL and rel(chin.tokens_ratio, 1.0) < TOL
    assert chin.verdict == "close to compute-optimal" and abs(chin.loss_gap) < 1e-3
    # Gopher: 4x too large, ~1/4.4 of the tokens it should have had for its compute
    assert gopher.params_ratio > 4.0 and gopher.tokens_ratio < 0.25 and gopher.verdict.startswith("under-trained")
    assert gopher.loss_gap > 0.04 and gopher.compute_efficiency < 0.4
    # loss gap between the two (approach 3, eq. 10): Chinchilla lower, by the amount the formula gives
    gap = loss_eq10(280e9, 300e9) - loss_eq10(70e9, 1.4e12)
    assert gopher.loss - chin.loss == pytest.approx(gap, rel=1e-9)
    assert 0.04 < gap < 0.08


def test_over_trained_model_is_called_over_trained():
    law = sc.get_law("chinchilla-1")
    m = sc.compare_model(law, "llama-2-7b", 6.74e9, 2e12)
    # 297 tokens per parameter; at its compute (8.1e22 FLOPs) the frontier wants ~25B on ~530B tokens
    assert m.tokens_ratio > 3 and m.verdict.startswith("over-trained") and m.params_ratio < 0.3


# ---- inference-aware sizing (Sardana et al. 2023) -------------------------------------------------------------

def test_sardana_figure1_13b_with_2t_inference_tokens():
    law = sc.get_law("chinchilla-3-sardana")
    target = law.loss(13e9, law.tokens_for_compute(law.compute_for_params(13e9)))
    r = sc.inference_aware(law, target, 2e12)
    assert rel(r.chinchilla.params, 13e9) < 1e-3
    # Figure 1: "reduce their total compute by 1.7e22 FLOPs (17%) by instead training a 7B model"
    assert rel(r.optimal.params, 7e9) < 0.10
    assert rel(r.saving_flops, 1.7e22) < 0.10
    assert rel(r.saving_fraction_flops, 0.17) < 0.10
    assert r.optimal.tokens > r.chinchilla.tokens and abs(r.optimal.loss - target) < 1e-9


def test_inference_aware_without_inference_is_chinchilla():
    law = sc.get_law("chinchilla-3")
    f = law.loss_fn
    target = 2.0
    n = sc.lifetime_optimal_params(f, target, 0.0)
    # closed form of the loss-constrained optimum: N = (A (alpha/beta + 1) / (L - E))^(1/alpha)
    closed = (f.a_coef * (f.alpha / f.beta + 1) / (target - f.e)) ** (1 / f.alpha)
    assert rel(n, closed) < 1e-4
    # and it is the compute-optimal frontier of the same law
    c = 6 * n * f.tokens_for_loss(n, target)
    assert rel(law.params_for_compute(c), n) < 1e-4


def test_more_inference_means_smaller_models_trained_longer():
    law = sc.get_law("chinchilla-3")
    target = law.frontier_loss(1e23)
    sizes = [sc.inference_aware(law, target, x).optimal for x in (0, 1e11, 1e12, 1e13, 1e14)]
    assert all(a.params > b.params for a, b in zip(sizes, sizes[1:]))
    assert all(a.tokens < b.tokens for a, b in zip(sizes, sizes[1:]))


def test_cost_objective_shrinks_the_model_further_when_serving_is_less_efficient():
    law = sc.get_law("chinchilla-3-sardana")
    rate = sc.ComputeRate("h100", 989e12, mfu=0.4, usd_per_gpu_hour=2.0, gpus=8, inference_mfu=0.2)
    target = law.frontier_loss(law.compute_for_params(13e9))
    by_flops = sc.inference_aware(law, target, 2e12, rate, "flops")
    by_usd = sc.inference_aware(law, target, 2e12, rate, "usd")
    assert by_usd.optimal.params < by_flops.optimal.params
    assert by_usd.optimal.total_cost_usd < by_flops.optimal.total_cost_usd
    # the dollars are FLOPs / (MFU · peak) · price
    p = by_usd.optimal
    assert p.train_cost_usd == pytest.approx(p.train_flops / (0.4 * 989e12) / 3600 * 2.0, rel=1e-12)
    assert p.inference_cost_usd == pytest.approx(p.inference_flops / (0.2 * 989e12) / 3600 * 2.0, rel=1e-12)


# ---- inverse modes, cost and time -------------------------------------------------------------------------------

@pytest.mark.parametrize("law_id", sc.law_ids())
def test_inverse_modes_are_consistent(law_id):
    law = sc.get_law(law_id)
    c = 3e24
    n, d = law.params_for_compute(c), law.tokens_for_compute(c)
    assert 6 * n * d == pytest.approx(c, rel=1e-12)
    assert law.compute_for_params(n) == pytest.approx(c, rel=1e-9)
    assert law.compute_for_tokens(d) == pytest.approx(c, rel=1e-9)
    assert law.compute_for_loss(law.frontier_loss(c)) == pytest.approx(c, rel=1e-6)


def test_usd_budget_and_cost():
    rate = sc.ComputeRate("h100-sxm5-80gb", 989e12, mfu=0.4, usd_per_gpu_hour=2.5, gpus=1000)
    r = sc.plan_scaling(sc.get_law("chinchilla-1"), usd=1e6, rate=rate, with_plots=False)
    gpu_hours = 1e6 / 2.5
    assert r.flops == pytest.approx(gpu_hours * 3600 * 989e12 * 0.4, rel=1e-12)
    assert r.cost.cost_usd == pytest.approx(1e6, rel=1e-9)
    assert r.cost.gpu_hours == pytest.approx(gpu_hours, rel=1e-9)
    assert r.cost.wall_s == pytest.approx(gpu_hours * 3600 / 1000, rel=1e-9)


def test_bad_inputs_in_the_planner():
    law = sc.get_law("chinchilla-1")
    with pytest.raises(FlopwiseError, match="give one of"):
        sc.plan_scaling(law)
    with pytest.raises(FlopwiseError, match="only one"):
        sc.plan_scaling(law, compute=1e24, params=1e9)
    with pytest.raises(FlopwiseError, match="positive"):
        sc.plan_scaling(law, tokens=-1.0)
    with pytest.raises(FlopwiseError, match="needs --gpu"):
        sc.plan_scaling(law, usd=1e6)
    with pytest.raises(FlopwiseError, match="did you mean 'kaplan'"):
        sc.get_law("kaplin")


# ---- CLI, end to end --------------------------------------------------------------------------------------------

def test_cli_json_reproduces_table3_1t_row():
    out = scale_json("--params", "1T")
    assert out["law"] == "chinchilla-1" and "Hoffmann et al. 2022" in out["law_source"]
    assert rel(out["params"], 1e12) < 1e-9
    assert rel(out["tokens"], 21.2e12) < TOL and rel(out["flops"], 1.27e26) < TOL
    assert rel(out["gopher_units"], 221.3) < TOL
    assert out["loss"] == pytest.approx(loss_eq10(out["params"], out["tokens"]), rel=1e-12)


def test_cli_text_output_names_law_and_source():
    res = runner.invoke(app, ["scale", "--compute", "1.3e28", "--law", "kaplan"])
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "Kaplan et al. 2020" in text and "arXiv:2001.08361" in text
    assert "params" in text and "tokens" in text and "flops" in text


def test_cli_tokens_and_usd_modes():
    out = scale_json("--tokens", "21.2T")
    assert rel(out["params"], 1e12) < TOL and rel(out["flops"], 1.27e26) < TOL
    out = scale_json("--usd", "1M", "--gpu", "h100-sxm5-80gb", "--price-per-gpu-hour", "2", "--mfu", "0.5")
    assert out["cost"]["cost_usd"] == pytest.approx(1e6, rel=1e-9)
    assert out["cost"]["price_source"] == "--price-per-gpu-hour"
    assert out["flops"] == pytest.approx(1e6 / 2 * 3600 * out["cost"]["peak_flops_per_s"] * 0.5, rel=1e-9)


def test_cli_catalog_price_source_is_shown():
    out = scale_json("--compute", "1e24", "--gpu", "h100-sxm5-80gb")
    c = out["cost"]
    assert c["usd_per_gpu_hour"] > 0 and "2025" in c["price_source"]
    assert c["mfu"] == sc.DEFAULT_TRAIN_MFU and c["gpus"] == sc.DEFAULT_GPUS
    assert c["cost_usd"] == pytest.approx(c["gpu_hours"] * c["usd_per_gpu_hour"], rel=1e-9)


def test_cli_gopher_vs_chinchilla():
    out = scale_json("--model", "gopher-280b", "--model", "chinchilla-70b")
    g, c = out["models"]
    assert g["params"] == 280e9 and g["tokens"] == 300e9 and c["params"] == 70e9 and c["tokens"] == 1.4e12
    assert g["tokens_ratio"] < 0.25 and rel(c["tokens_ratio"], 1.0) < TOL
    assert c["loss"] < g["loss"]
    assert out["given"] == "model" and out["flops"] == pytest.approx(6 * 280e9 * 300e9)
    # a model's tokens can be overridden
    out = scale_json("--model", "llama-2-7b", "--tokens", "140B")
    assert out["models"][0]["tokens"] == 140e9


def test_cli_sardana_case():
    out = scale_json("--law", "sardana", "--params", "13B", "--inference-tokens", "2T")
    inf = out["inference_compute_optimal"]
    assert rel(inf["optimal"]["params"], 7e9) < 0.10 and rel(inf["saving_flops"], 1.7e22) < 0.10
    assert out["inference_cost_optimal"] is None  # no --gpu, no price


def test_cli_json_carries_plot_data():
    out = scale_json("--compute", "1e24", "--inference-tokens", "1T")
    p = out["plots"]
    assert len(p["isoflop"]) == 5 and len(p["cost_vs_size"]) == 4 and p["loss_vs_compute"]
    mid = p["isoflop"][2]
    assert rel(mid["marker_x"], out["params"]) < 1e-9
    # each cost curve's marked optimum is the lowest point of its curve (up to grid spacing)
    for c in p["cost_vs_size"]:
        assert c["marker_y"] <= min(c["y"]) * (1 + 1e-9)


@pytest.mark.parametrize("args, needle", [
    ([], "give one of"),
    (["--compute", "1e24", "--params", "7B"], "only one"),
    (["--compute", "-1e24"], "positive"),
    (["--tokens", "-3T"], "positive"),
    (["--law", "chinchila", "--compute", "1e24"], "did you mean"),
    (["--usd", "1e6"], "needs --gpu"),
    (["--model", "gopher-280b", "--params", "7B"], "does not combine"),
    (["--compute", "1e24", "--plot", "out.txt"], "use .png or .html"),
])
def test_cli_bad_input_is_one_line_exit_2(cli, args, needle):
    proc = cli("scale", *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


# ---- plots --------------------------------------------------------------------------------------------------------

def test_plot_html_is_self_contained(tmp_path):
    pytest.importorskip("plotly")
    path = tmp_path / "scale.html"
    res = runner.invoke(app, ["scale", "--params", "70B", "--inference-tokens", "2T", "--plot", str(path)])
    assert res.exit_code == 0, (res.output, res.exception)
    html = path.read_text(encoding="utf-8")
    assert len(html) > 1_000_000  # plotly.js embedded, works offline
    assert '<script src="http' not in html and "<script src='http" not in html
    assert "IsoFLOP" in html and "inference tokens" in html


def test_plot_png_when_kaleido_and_chromium_exist(tmp_path):
    pytest.importorskip("plotly")
    from flopwise.report.plots import png_export_available

    ok, why = png_export_available()
    if not ok:
        pytest.skip(f"PNG export unavailable here: {why}")
    path = tmp_path / "scale.png"
    res = runner.invoke(app, ["scale", "--compute", "1e24", "--plot", str(path)])
    assert res.exit_code == 0, (res.output, res.exception)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_png_without_exporter_fails_with_one_line_suggesting_html(tmp_path, monkeypatch):
    pytest.importorskip("plotly")
    from flopwise.report import plots

    monkeypatch.setattr(plots, "png_export_available", lambda: (False, "no Chromium/Chrome browser found"))
    r = sc.plan_scaling(sc.get_law("chinchilla-1"), compute=1e24)
    with pytest.raises(FlopwiseError) as exc:
        plots.write_figure(plots.scaling_figure(r.plots), tmp_path / "x.png")
    msg = str(exc.value)
    assert "\n" not in msg and "--plot" in msg and msg.rstrip().endswith("x.html")
    assert not (tmp_path / "x.png").exists()


def test_cli_a_config_json_path_is_a_model_too():
    cfg = Path(__file__).parent / "fixtures" / "hf" / "Llama-2-7b-hf" / "config.json"
    out = scale_json("--model", str(cfg), "--tokens", "2T")
    m = out["models"][0]
    assert rel(m["params"], 6.74e9) < 0.01 and m["tokens"] == 2e12
