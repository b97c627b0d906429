"""The page in a real headless Chromium: fill the forms, submit, check the numbers and that charts rendered.

Needs the `playwright` Python package and a Chromium executable (Debian's `chromium` package; no browser
download). Without them every test here is skipped with the reason. The server runs in a thread of this
process on 127.0.0.1 with a port the OS picks, and is stopped at the end of the module.
Set FLOPWISE_CHROMIUM to use another Chromium executable, FLOPWISE_SCREENSHOTS=DIR to keep screenshots.
"""

from __future__ import annotations

import math
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install 'flopwise[web]'")
uvicorn = pytest.importorskip("uvicorn", reason="the web extra is not installed: pip install 'flopwise[web]'")
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="playwright is not installed (pip install playwright; .ci/system-deps does it)")


def _chromium() -> str | None:
    env = os.environ.get("FLOPWISE_CHROMIUM")
    if env:
        return env if Path(env).is_file() else None
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


CHROMIUM = _chromium()
if CHROMIUM is None:
    pytest.skip("no Chromium executable (apt-get install chromium, or set FLOPWISE_CHROMIUM)", allow_module_level=True)

from flopwise.web.app import create_app  # noqa: E402

HF = Path(__file__).parent / "fixtures" / "hf"
TIMEOUT_MS = 30_000
SHOTS = os.environ.get("FLOPWISE_SCREENSHOTS")


class _Server:
    """uvicorn in a daemon thread on a socket bound to 127.0.0.1:0; `stop()` ends it."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        app = create_app(allowed_hosts=["127.0.0.1", "localhost"])
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> "_Server":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture(scope="module")
def server():
    srv = _Server().start()
    yield srv
    srv.stop()
    assert not srv.thread.is_alive(), "the test server did not stop"


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        try:
            b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        except Exception as exc:  # present but broken: a real failure, not a skip
            pytest.fail(f"cannot start Chromium at {CHROMIUM}: {exc}")
        yield b
        b.close()


@pytest.fixture
def page(browser, server, request):
    """A fresh page; fails the test on console errors, page errors, or any request off the server."""
    ctx = browser.new_context(viewport={"width": 1366, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    problems: list[str] = []
    foreign: list[str] = []
    pg.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" and not getattr(request.node, "expect_http_errors", False) else None)
    pg.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    pg.on("request", lambda r: foreign.append(r.url) if not (r.url.startswith(server.url) or r.url.startswith("data:")) else None)
    pg.server = server
    yield pg
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(Path(SHOTS) / f"{request.node.name}.png"), full_page=True)
    ctx.close()
    assert not foreign, f"the page reached outside the local server: {foreign}"
    assert not problems, problems


def _open(pg, hash_: str = ""):
    pg.goto(pg.server.url + "/" + hash_)
    pg.wait_for_selector("body[data-ready='1']")


def _wait_chart(pg, chart_id: str) -> dict:
    """Wait until Plotly drew `chart_id`; return its traces, layout and how many SVG bars/points it drew."""
    pg.wait_for_function(f"() => (document.getElementById('{chart_id}').dataset.rendered || '') !== ''")
    return pg.evaluate(f"""() => {{
        const d = document.getElementById('{chart_id}');
        return {{
            traces: d.data.map(t => ({{name: t.name, x: Array.from(t.x || []), y: Array.from(t.y || [])}})),
            shapes: (d.layout.shapes || []).map(s => ({{x0: s.x0}})),
            svg: d.querySelectorAll('svg.main-svg').length,
            marks: d.querySelectorAll('.barlayer .point path, .scatterlayer .point').length,
            width: d.getBoundingClientRect().width,
        }};
    }}""")


def _kpi(pg, key: str) -> tuple[float, str]:
    loc = pg.locator(f"#train-kpis [data-k='{key}']")
    return float(loc.get_attribute("data-value")), loc.locator(".v").inner_text()


def _api_train(server, body: dict) -> dict:
    import httpx

    resp = httpx.post(f"{server.url}/api/train", json=body, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_plan_llama3_70b_on_64_h100(page):
    """The newcomer's path: open the page, pick the model and accelerator, press the button."""
    _open(page)
    page.select_option("#train-model", "llama-3-70b")
    page.select_option("#train-gpu", "h100-sxm5-80gb")
    page.fill("#train-gpus", "64")
    page.fill("#train-tokens", "1T")
    page.click("#train-submit")
    page.wait_for_selector("#train-results:not([hidden])")
    want = _api_train(page.server, {"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "gpus": 64, "tokens": "1T"})

    headline = page.inner_text("#train-headline")
    assert headline.startswith("Llama 3 70B on 64 × NVIDIA H100")
    days, text = _kpi(page, "days")
    assert math.isclose(days, want["days"], rel_tol=1e-12) and text == f"{want['days']:,.1f} days"
    cost, text = _kpi(page, "cost_usd")
    assert math.isclose(cost, want["cost_usd"], rel_tol=1e-12) and text == f"${want['cost_usd']:,.0f}"
    mfu, text = _kpi(page, "mfu")
    assert math.isclose(mfu, want["mfu"], rel_tol=1e-12) and text == f"{100 * want['mfu']:.1f}%"
    mem, text = _kpi(page, "memory")
    assert math.isclose(mem, want["memory"]["total_bytes"], rel_tol=1e-12)
    assert text == f"{want['memory']['total_bytes'] / 2**30:.1f} / 80 GiB"
    assert page.inner_text("#train-plan") == want["top_plans"][0]["plan"]
    rows = page.locator("#train-top tbody tr")
    assert rows.count() == len(want["top_plans"]) == 5
    assert rows.nth(0).locator("code").inner_text() == want["top_plans"][0]["plan"]
    if want.get("reliability"):
        exp_days, text = _kpi(page, "expected_days")
        assert math.isclose(exp_days, want["expected_days"], rel_tol=1e-12)

    # memory chart: one stacked bar per plan and component, against the H100's 80 GiB
    mem_chart = _wait_chart(page, "chart-train-memory")
    assert [t["name"] for t in mem_chart["traces"]] == ["weights", "gradients", "optimizer", "activations", "buffers", "framework"]
    assert mem_chart["svg"] >= 1 and mem_chart["marks"] >= 5 * 5 and mem_chart["width"] > 300
    stacked = sum(t["x"][0] for t in mem_chart["traces"])
    assert math.isclose(stacked, want["memory"]["total_bytes"] / 2**30, rel_tol=1e-9)
    assert math.isclose(mem_chart["shapes"][0]["x0"], 80.0)
    # step-time chart: the components of plan #1 add up to its step time
    step_chart = _wait_chart(page, "chart-train-step")
    assert step_chart["marks"] >= 5 and {"compute", "tp comm", "bubble"} <= {t["name"] for t in step_chart["traces"]}
    assert math.isclose(sum(t["x"][0] for t in step_chart["traces"]), want["step_time"]["step_s"], rel_tol=1e-9)
    # the address now holds the request, so the result can be shared and reloaded
    assert "gpus=64" in page.url and "model=llama-3-70b" in page.url
    # how far to trust it: the track record of flopwise on this hardware generation
    details = page.inner_text("#train-details")
    tr = want["track_record"]
    assert f"{tr['rows']} published runs on hopper" in details and f"{100 * tr['median_abs_error']:.1f}%" in details


def test_shared_link_reruns_the_plan(page):
    _open(page, "#train?model=llama-3-8b&gpu=a100-sxm4-80gb&gpus=8&tokens=100B&failures=false")
    page.wait_for_selector("#train-results:not([hidden])")
    want = _api_train(page.server, {"model": "llama-3-8b", "gpu": "a100-sxm4-80gb", "gpus": 8, "tokens": "100B", "failures": False})
    assert page.inner_text("#train-headline").startswith("Llama 3 8B on 8 × ")
    days, _ = _kpi(page, "days")
    assert math.isclose(days, want["days"], rel_tol=1e-12)
    assert page.locator("#train-kpis [data-k='expected_days']").count() == 0
    _wait_chart(page, "chart-train-memory")


def test_bad_input_gets_a_message_a_person_can_act_on(page, request):
    request.node.expect_http_errors = True  # the browser logs the 422 responses as console errors
    _open(page)
    page.fill("#train-gpus", "2")
    page.click("#train-submit")
    err = page.locator("#train-error")
    err.wait_for(state="visible")
    assert "no plan fits in memory on 2 x h100-sxm5-80gb" in err.inner_text() and "use more GPUs" in err.inner_text()
    assert page.locator("#train-results").is_hidden()
    page.fill("#train-gpus", "64")
    page.fill("#train-tokens", "lots")
    page.click("#train-submit")
    page.wait_for_function("() => document.getElementById('train-error').textContent.includes('tokens must be a number')")
    page.fill("#train-tokens", "1T")
    page.click("#train-submit")
    page.wait_for_selector("#train-results:not([hidden])")
    assert err.is_hidden()
    # a failing request after a good one hides the earlier answer instead of leaving it beside the error
    page.fill("#train-gpus", "3")
    page.click("#train-submit")
    err.wait_for(state="visible")
    assert page.locator("#train-results").is_hidden()


def test_pasted_config_json_on_the_model_tab(page):
    _open(page)
    page.click("#tab-model")
    page.locator("#model-paste summary").click()
    page.fill("#model-hf-config", (HF / "Mixtral-8x7B-v0.1" / "config.json").read_text())
    page.click("#model-submit")
    page.wait_for_selector("#model-results:not([hidden])")
    import httpx

    want = httpx.post(f"{page.server.url}/api/model-info",
                      json={"hf_config": (HF / "Mixtral-8x7B-v0.1" / "config.json").read_text()}).json()
    assert f"{want['params_total']:,}" in page.inner_text("#model-table [data-k='params_total']")
    assert "MoE 8 experts top-2" in page.inner_text("#model-table [data-k='architecture']")
    weights = _wait_chart(page, "chart-model-weights")
    assert weights["marks"] >= 4
    assert math.isclose(weights["traces"][0]["y"][0], want["weights_bytes"]["fp32"] / 2**30, rel_tol=1e-9)
    _wait_chart(page, "chart-model-flops")


def test_pasted_config_error(page, request):
    request.node.expect_http_errors = True
    _open(page, "#model")
    page.locator("#model-paste summary").click()
    page.fill("#model-hf-config", (HF / "missing-hidden-size" / "config.json").read_text())
    page.click("#model-submit")
    page.locator("#model-error").wait_for(state="visible")
    assert "missing required field 'hidden_size'" in page.inner_text("#model-error")


def test_validate_tab_scores_the_bundled_runs(page):
    from flopwise.cli.validate_cmd import score_file

    want = score_file(None, "training")
    _open(page)
    page.click("#tab-validate")
    page.select_option("#validate-kind", "training")
    page.click("#validate-submit")
    page.wait_for_selector("#validate-results:not([hidden])")
    assert page.locator("#validate-table tbody tr").count() == len(want.rows)
    median = float(page.get_attribute("#validate-kpis [data-k='median_abs_error']", "data-value"))
    assert math.isclose(median, want.median_abs_error, rel_tol=1e-12)
    chart = _wait_chart(page, "chart-validate")
    plotted = sum(len(t["x"]) for t in chart["traces"] if t["name"] not in ("exact", "±25%"))
    assert plotted == sum(1 for r in want.rows if r.error is not None and r.predicted and r.measured)
    assert chart["marks"] >= plotted


def test_plotly_comes_from_the_local_server(page):
    _open(page)
    assert page.evaluate("() => typeof window.Plotly === 'object' && typeof window.Plotly.newPlot === 'function'")
    srcs = page.evaluate("() => Array.from(document.scripts).map(s => s.src)")
    assert f"{page.server.url}/static/plotly.min.js" in srcs


# ---- optional sections (serve, compare, fit, scale): tested when the API offers them ------------------

from flopwise.web.extras import available as _available  # noqa: E402

HAVE = _available()


def _needs(name):
    return pytest.mark.skipif(not HAVE[name], reason=f"the {name} planner module is not in this build")


def _get(server, path: str) -> dict:
    import httpx

    resp = httpx.get(f"{server.url}{path}", timeout=120)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _post(server, path: str, body: dict) -> dict:
    import httpx

    resp = httpx.post(f"{server.url}{path}", json=body, timeout=120)
    assert resp.status_code == 200, resp.text
    return resp.json()


@_needs("serve")
def test_serve_section(page):
    _open(page)
    page.click("#tab-serve")
    page.select_option("#serve-model", "llama-3-70b")
    page.select_option("#serve-gpu", "h100-sxm5-80gb")
    page.fill("#serve-rate", "10/s")
    page.fill("#serve-ttft-p99", "1s")
    page.fill("#serve-tpot", "50ms")
    page.click("#serve-submit")
    page.wait_for_selector("#serve-results:not([hidden])")
    want = _post(page.server, "/api/serve", {"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "rate": "10/s", "ttft_p99": "1s", "tpot": "50ms"})
    e = want["estimate"]
    assert float(page.get_attribute("#serve-kpis [data-k='ttft_p99_s']", "data-value")) == pytest.approx(e["ttft_p99_s"], rel=1e-12)
    assert float(page.get_attribute("#serve-kpis [data-k='usd_per_m_tokens']", "data-value")) == pytest.approx(e["usd_per_m_tokens"], rel=1e-12)
    assert f"{e['gpus']} × NVIDIA H100" in page.inner_text("#serve-headline")
    assert f"{want['track_record']['rows']} published serving runs on hopper" in page.inner_text("#serve-track-record")
    mem = _wait_chart(page, "chart-serve-memory")
    assert mem["traces"][0]["name"] == "weights" and mem["traces"][0]["x"][0] == pytest.approx(e["memory"]["weights_bytes"] / 2**30)
    assert mem["shapes"][0]["x0"] == pytest.approx(80.0) and mem["marks"] >= 3
    step = _wait_chart(page, "chart-serve-step")
    assert step["marks"] >= 2


@_needs("compare")
def test_compare_section_draws_the_pareto_front(page):
    _open(page)
    page.click("#tab-compare")
    page.select_option("#compare-model", "llama-3-8b")
    page.fill("#compare-tokens", "100B")
    page.locator("#panel-compare details.advanced summary").click()
    page.fill("#compare-accelerators", "h100-sxm5-80gb, a100-sxm4-80gb")
    page.fill("#compare-max-gpus", "256")
    page.click("#compare-submit")
    page.wait_for_selector("#compare-results:not([hidden])", timeout=120_000)
    want = _post(page.server, "/api/compare", {"model": "llama-3-8b", "tokens": "100B", "accelerators": ["h100-sxm5-80gb", "a100-sxm4-80gb"],
                                                "max_gpus": 256, "mode": "train", "sort": "cost", "spot": True,
                                                "input_tokens": 2048, "output_tokens": 256})
    chart = _wait_chart(page, "chart-compare")
    front = next(t for t in chart["traces"] if t["name"] == "Pareto front")
    assert front["x"] == pytest.approx([r["days"] for r in want["pareto"]])
    assert front["y"] == pytest.approx([r["cost_usd"] for r in want["pareto"]])
    points = sum(len(t["x"]) for t in chart["traces"] if t["name"] != "Pareto front")
    assert points == len(want["rows"]) and chart["marks"] >= points
    assert page.locator("#compare-pareto tbody tr").count() == len(want["pareto"])


@_needs("fit")
def test_fit_section(page):
    _open(page)
    page.click("#tab-fit")
    page.select_option("#fit-model", "llama-3-70b")
    page.select_option("#fit-gpu", "h100-sxm5-80gb")
    page.fill("#fit-gpus", "8")
    page.click("#fit-submit")
    page.wait_for_selector("#fit-results:not([hidden])")
    want = _post(page.server, "/api/fit", {"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "gpus": 8})
    assert page.locator("#fit-table tbody tr").count() == len(want["rows"])
    first = page.locator("#fit-table tbody tr").nth(0).inner_text()
    assert want["rows"][0]["task"] in first and ("yes" if want["rows"][0]["fits"] else "no") in first
    chart = _wait_chart(page, "chart-fit")
    assert chart["marks"] >= len(want["rows"]) and chart["shapes"][0]["x0"] == pytest.approx(80.0)
    assert chart["traces"][0]["y"] == [r["task"] for r in want["rows"]]


@_needs("scale")
def test_scale_section_draws_the_curves(page):
    _open(page)
    page.click("#tab-scale")
    page.fill("#scale-compute", "5.76e23")
    page.click("#scale-submit")
    page.wait_for_selector("#scale-results:not([hidden])")
    body = {"compute": "5.76e23", "law": "chinchilla-1", "gpu": "h100-sxm5-80gb", "gpus": 1024, "mfu": 0.4, "inference_mfu": 0.2}
    want = _post(page.server, "/api/scale", body)
    assert float(page.get_attribute("#scale-kpis [data-k='params']", "data-value")) == pytest.approx(want["params"], rel=1e-12)
    iso = _wait_chart(page, "chart-scale-isoflop")
    lines = [t for t in iso["traces"] if t["name"]]
    assert len(lines) == len(want["plots"]["isoflop"]) and lines[0]["x"] == pytest.approx(want["plots"]["isoflop"][0]["x"])
    assert iso["svg"] >= 1
    _wait_chart(page, "chart-scale-loss")
    cost = _wait_chart(page, "chart-scale-cost")
    assert len([t for t in cost["traces"] if t["name"]]) == len(want["plots"]["cost_vs_size"])


@_needs("budget")
def test_budget_section_prices_a_student_budget(page):
    """$1000 of H100 time: the GPU-hours, the compute-optimal model, the fine-tune and the tokens served,
    the same numbers as the API; with GPUs and days instead, the dollars follow."""
    _open(page)
    page.click("#tab-budget")
    page.select_option("#budget-gpu", "h100-sxm5-80gb")
    page.fill("#budget-usd", "1000")
    page.click("#budget-submit")
    page.wait_for_selector("#budget-results:not([hidden])")
    serving_model = page.eval_on_selector("#budget-model", "e => e.value")
    want = _post(page.server, "/api/budget", {"gpu": "h100-sxm5-80gb", "usd": "1000", "model": serving_model})
    head = page.inner_text("#budget-headline")
    assert "$1,000 buys" in head and f"{want['gpu_hours']:,.0f} GPU-hours" in head
    shown = float(page.get_attribute("#budget-kpis [data-k='pretrain_params']", "data-value"))
    assert shown == pytest.approx(want["pretrain"]["params"], rel=1e-9)
    assert float(page.get_attribute("#budget-kpis [data-k='serve_tokens']", "data-value")) == pytest.approx(
        want["serve"]["tokens"], rel=1e-9)
    assert page.locator("#budget-assumptions li").count() == len(want["assumptions"])
    # GPUs for days instead of dollars: the page drops the dollar field and the API prices the time
    page.click("#panel-budget details.advanced summary")
    page.fill("#budget-gpus", "8")
    page.fill("#budget-days", "2")
    page.click("#budget-submit")
    page.wait_for_function("() => document.getElementById('budget-headline').textContent.includes('384 GPU-hours')")


def test_validate_tab_explains_a_run(page):
    """Pressing a training run's name shows where its predicted step time and memory go, as the API says."""
    _open(page)
    page.click("#tab-validate")
    page.click("#validate-submit")
    page.wait_for_selector("#validate-results:not([hidden])")
    page.click("#validate-table button[data-row='pythia-70m']")
    page.wait_for_selector("#validate-breakdown:not([hidden])")
    want = _get(page.server, "/api/validate/row?kind=training&id=pythia-70m")["breakdown"]
    assert "pythia-70m" in page.inner_text("#validate-breakdown-title")
    parts = [k for k in want["step_s"] if k != "total"]
    assert page.locator("#validate-breakdown-step tbody tr").count() == len(parts)
    assert page.locator("#validate-breakdown-memory tbody tr").count() == len(want["memory_gib"]) - 1
    assert "compute" in page.inner_text("#validate-breakdown-step tbody tr[data-k='compute']")
