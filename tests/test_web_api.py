"""The web API (FastAPI TestClient): same numbers as the CLI, actionable 422s, size limit, no paths read."""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install 'flopwise[web]'")
pytest.importorskip("httpx", reason="httpx (test extra) is needed by FastAPI's TestClient")

from fastapi.testclient import TestClient  # noqa: E402

from flopwise.web.app import MAX_BODY_BYTES, create_app  # noqa: E402

HF = Path(__file__).parent / "fixtures" / "hf"
TRAIN = {"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "gpus": 64, "tokens": "1T"}


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app()) as c:
        yield c


def detail(resp) -> str:
    body = resp.json()
    assert isinstance(body.get("detail"), str), body
    assert "\n" not in body["detail"]
    return body["detail"]


# ---- catalog and page -------------------------------------------------------------------------


def test_catalog_offers_models_accelerators_and_defaults(client):
    cat = client.get("/api/catalog").json()
    models = {m["id"] for m in cat["models"]}
    accs = {a["id"] for a in cat["accelerators"]}
    assert {"llama-3-70b", "llama-3-8b", "deepseek-v3"} <= models
    assert {"h100-sxm5-80gb", "a100-sxm4-80gb"} <= accs
    assert cat["defaults"] == {"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "gpus": 64, "tokens": "1T"}
    assert cat["features"]["train"] and cat["features"]["model"] and cat["features"]["validate"]
    assert "adam" in cat["optimizers"] and "bf16" in cat["precisions"]


def test_page_and_assets_are_local(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    for text in (page.text, client.get("/static/app.js").text, client.get("/static/style.css").text):
        # no CDN: nothing the page loads comes from another origin
        assert "cdn." not in text and "src=\"http" not in text and "href=\"http" not in text
    assert '<script src="/static/plotly.min.js"' in page.text


def test_plotly_js_is_served_from_the_plotly_package(client):
    import plotly

    shipped = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    resp = client.get("/static/plotly.min.js")
    assert resp.status_code == 200
    assert resp.content == shipped.read_bytes()
    assert resp.headers["content-type"].startswith("text/javascript")
    assert client.get("/api/health").json()["plotly_js"] is True


@pytest.mark.parametrize("path", ["/static/../app.py", "/static/%2e%2e/app.py", "/static/..%2fapp.py", "/static/index.html",
                                  "/static//etc/passwd", "/static/docs/../../app.py", "/static/nope.js"])
def test_static_serves_only_a_fixed_list(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert "import" not in resp.text  # never the source of a module


def test_docs_and_openapi_work_offline(client):
    docs = client.get("/docs")
    assert docs.status_code == 200
    if "/static/docs/swagger-ui-bundle.js" in docs.text:  # fastapi-offline installed: local Swagger UI
        assert "cdn.jsdelivr" not in docs.text
        assert client.get("/static/docs/swagger-ui-bundle.js").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/catalog", "/api/model-info", "/api/train", "/api/validate", "/api/models/{model_id}"} <= set(paths)


# ---- train ------------------------------------------------------------------------------------


def test_train_is_the_cli_json(client, cli):
    api = client.post("/api/train", json=TRAIN)
    assert api.status_code == 200, api.text
    got = api.json()
    proc = cli("train", "llama-3-70b", "--gpu", "h100-sxm5-80gb", "--gpus", "64", "--tokens", "1T", "--json", check=True)
    want = json.loads(proc.stdout)
    for key in ("search_s",):  # wall-clock of the search differs between runs
        got.pop(key), want.pop(key)
    breakdowns = got.pop("top_plan_breakdowns")
    assert got == want
    assert got["plan"] is not None and got["memory"]["fits"]
    assert len(breakdowns) == len(got["top_plans"]) == 5
    assert breakdowns[0]["memory"] == got["memory"] and breakdowns[0]["step_time"] == got["step_time"]
    for b, t in zip(breakdowns, got["top_plans"]):
        assert b["plan"] == t["plan"]
        assert math.isclose(b["memory"]["total_bytes"] / 2**30, t["memory_gib"], rel_tol=1e-9)
        st = b["step_time"]
        assert math.isclose(sum(v for k, v in st.items() if k != "step_s"), st["step_s"], rel_tol=1e-9)


def test_train_accepts_numbers_and_options(client):
    body = {**TRAIN, "tokens": 1e12, "system": "dgx-h100", "precision": "fp8", "global_batch": 1024, "seq_len": 4096,
            "price_per_gpu_hour": 2.0, "top": 3, "plan": "tp=8"}
    est = client.post("/api/train", json=body).json()
    assert est["tokens"] == 1e12 and est["precision"] == "fp8" and est["global_batch"] == 1024 and est["seq_len"] == 4096
    assert est["plan"]["tp"] == 8 and len(est["top_plans"]) <= 3
    assert est["price_source"] is None and math.isclose(est["cost_usd"], est["gpu_hours"] * 2.0)


def test_train_reliability_options(client, cli):
    body = {**TRAIN, "async_checkpoint": True, "max_job_hours": 48, "simulate": 200}
    est = client.post("/api/train", json=body).json()
    assert est["reliability"]["checkpoint_mode"] != "sync" and est["reliability"]["resubmissions"] > 0
    assert est["simulation"]["n"] == 200 and est["expected_days"] > est["days"]
    off = client.post("/api/train", json={**TRAIN, "failures": False}).json()
    assert off["reliability"] is None and off["expected_days"] is None
    cheap = client.post("/api/train", json={**TRAIN, "objective": "cost", "max_days": 2000}).json()
    want = json.loads(cli("train", "llama-3-70b", "--gpu", "h100-sxm5-80gb", "--gpus", "64", "--tokens", "1T",
                          "--objective", "cost", "--max-days", "2000", "--json", check=True).stdout)
    assert cheap["gpus"] == want["gpus"] and cheap["plan"] == want["plan"] and cheap["cost_usd"] == want["cost_usd"]
    assert cheap["top_plan_breakdowns"][0]["plan"] == cheap["top_plans"][0]["plan"]


def test_train_assumed_mfu(client):
    est = client.post("/api/train", json={**TRAIN, "mfu": 0.4}).json()
    assert est["mode"] == "assumed-mfu" and est["step_time"] is None and est["top_plan_breakdowns"] == []
    assert math.isclose(est["mfu"], 0.4)


def test_train_from_pasted_config_matches_catalog(client):
    cfg = (HF / "Meta-Llama-3-70B" / "config.json").read_text()
    pasted = client.post("/api/train", json={**{k: v for k, v in TRAIN.items() if k != "model"}, "hf_config": cfg}).json()
    named = client.post("/api/train", json=TRAIN).json()
    assert math.isclose(pasted["flops"]["flops_total"], named["flops"]["flops_total"], rel_tol=1e-9)
    assert pasted["plan"] == named["plan"]


# ---- model info and validate ---------------------------------------------------------------------


def test_model_info_catalog_and_pasted(client):
    from flopwise.catalog.models import get_model
    from flopwise.estimate.model_info import model_info

    want = json.loads(model_info(get_model("llama-3-70b")).model_dump_json())
    assert client.get("/api/models/llama-3-70b").json() == want
    assert client.post("/api/model-info", json={"model": "llama-3-70b"}).json() == want
    cfg = (HF / "Mixtral-8x7B-v0.1" / "config.json").read_text()
    info = client.post("/api/model-info", json={"hf_config": cfg, "context": 4096}).json()
    assert info["params_active"] < info["params_total"] and info["context_for_flops"] == 4096


def test_validate_bundled_runs(client):
    from flopwise.cli.validate_cmd import score_file

    rep = client.get("/api/validate", params={"kind": "training"}).json()
    want = score_file(None, "training")
    assert rep["kind"] == "training" and rep["scored"] == want.scored
    assert math.isclose(rep["median_abs_error"], want.median_abs_error)
    assert client.get("/api/validate").json()["kind"] == "training"


def test_validate_one_row_with_its_breakdown(client, cli):
    row = client.get("/api/validate/row", params={"id": "llama2-70b"}).json()
    want = json.loads(cli("validate", "--row", "llama2-70b", "--json", check=True).stdout)["rows"][0]
    assert row["id"] == "llama2-70b" and math.isclose(row["error"], want["error"])
    assert row["breakdown"]["step_s"] == pytest.approx(want["breakdown"]["step_s"])
    bad = client.get("/api/validate/row", params={"id": "llama2-7"})
    assert bad.status_code == 422 and "did you mean" in detail(bad)


# ---- bad input: 422 with one line a person can act on ---------------------------------------------


@pytest.mark.parametrize("body, status, words", [
    ({**TRAIN, "gpu": "h100-xyz"}, 422, ["unknown accelerator 'h100-xyz'", "did you mean", "h100-sxm5-80gb"]),
    ({**TRAIN, "model": "llama-3-7"}, 422, ["unknown model 'llama-3-7'", "llama-3-70b", "paste"]),
    ({**TRAIN, "gpus": 0}, 422, ["field 'gpus'", "greater than 0"]),
    ({**TRAIN, "gpus": "many"}, 422, ["field 'gpus'", "integer"]),
    ({**TRAIN, "tokens": "-5"}, 422, ["tokens must be a positive finite number"]),
    ({**TRAIN, "tokens": "lots"}, 422, ["tokens must be a number like"]),
    ({**TRAIN, "precision": "int3"}, 422, ["field 'precision'", "'bf16'"]),
    ({**TRAIN, "optimizer": "adma"}, 422, ["unknown optimizer 'adma'", "adam"]),
    ({**TRAIN, "plan": "tp=8,foo=2"}, 422, ["unknown plan key 'foo'"]),
    ({**TRAIN, "mfu": 1.5}, 422, ["field 'mfu'", "less than or equal to 1"]),
    ({**TRAIN, "gpu_count": 64}, 422, ["unknown field 'gpu_count'", "did you mean 'gpu"]),
    ({k: v for k, v in TRAIN.items() if k != "tokens"}, 422, ["field 'tokens' is required"]),
    ({k: v for k, v in TRAIN.items() if k != "gpu"}, 422, ["give 'gpu'"]),
    ({k: v for k, v in TRAIN.items() if k != "model"}, 422, ["give 'model'"]),
    ({**TRAIN, "hf_config": "{}"}, 422, ["not both"]),
    ({**TRAIN, "gpus": 2}, 422, ["no plan fits in memory on 2 x h100-sxm5-80gb", "use more GPUs"]),
    ({**TRAIN, "objective": "speed"}, 422, ["field 'objective'", "'time' or 'cost'"]),
    ({**TRAIN, "failure_model": "nope"}, 422, ["unknown failure model 'nope'"]),
    ({**TRAIN, "simulate": 10, "failures": False}, 422, ["simulate needs the failure model"]),
    ({**TRAIN, "simulate": 10**6}, 422, ["field 'simulate'"]),
    ({**TRAIN, "gpus": True}, 422, ["gpus takes a number or text, not true"]),
    ({**TRAIN, "max_days": 3}, 422, ["'max_days' bounds the cheapest plan", "'objective' cost"]),
    ({**TRAIN, "plan": "tp=8,pp=16"}, 422, ["tp·pp·cp = 8·16·1 = 128 does not divide 64 GPUs"]),
    ({**TRAIN, "gpus": 8, "tokens": "1e18", "mfu": 1e-300}, 422, ["never finish"]),
    ({**TRAIN, "tokens": "100B", "global_batch": 100_000_000}, 422, ["more than the whole run", "'global_batch'"]),
    ({**TRAIN, "model": None, "hf_config": "{\"a\":" * 3000 + "1" + "}" * 3000}, 422, ["nests too deeply"]),
])
def test_train_bad_input(client, body, status, words):
    resp = client.post("/api/train", json=body)
    assert resp.status_code == status, resp.text[:300]
    msg = detail(resp)
    for w in words:
        assert w in msg, msg


def test_infeasible_is_marked(client):
    resp = client.post("/api/train", json={**TRAIN, "gpus": 2})
    assert resp.json()["error"] == "infeasible"


@pytest.mark.parametrize("text, words", [
    ("{not json", ["hf_config is not valid JSON", "line 1"]),
    ("[1, 2]", ["must be a JSON object"]),
    ('{"model_type": "bert"}', ["unsupported model_type 'bert'", "llama"]),
    (None, ["missing required field 'hidden_size'"]),
])
def test_pasted_config_errors(client, text, words):
    if text is None:
        text = (HF / "missing-hidden-size" / "config.json").read_text()
    resp = client.post("/api/model-info", json={"hf_config": text})
    assert resp.status_code == 422
    for w in words:
        assert w in detail(resp)


@pytest.mark.parametrize("raw, words", [
    (b"{nope", ["not valid JSON"]),
    (b"[1, 2]", ["must be a JSON object"]),
    (b"", ["request body"]),
])
def test_malformed_bodies(client, raw, words):
    resp = client.post("/api/train", content=raw, headers={"content-type": "application/json"})
    assert resp.status_code == 422
    for w in words:
        assert w in detail(resp)


def test_bad_query_values(client):
    assert "field 'kind'" in detail(client.get("/api/validate", params={"kind": "everything"}))
    assert client.get("/api/models/llama-3-70b", params={"context": 0}).status_code == 422
    assert "did you mean" in detail(client.get("/api/models/llama3-70b-x"))


# ---- limits and paths ------------------------------------------------------------------------------


def test_body_size_limit_with_content_length(client):
    big = {"hf_config": " " * (MAX_BODY_BYTES + 10)}
    resp = client.post("/api/model-info", json=big)
    assert resp.status_code == 413
    assert "larger than" in detail(resp)


def test_body_size_limit_when_chunked(client):
    def chunks():
        for _ in range(40):
            yield b"x" * 8192  # 320 KiB, no Content-Length

    resp = client.post("/api/train", content=chunks(), headers={"content-type": "application/json"})
    assert resp.status_code == 413


def test_pasted_config_length_limit(client):
    resp = client.post("/api/model-info", json={"hf_config": '{"a": "' + "x" * 140_000 + '"}'})
    assert resp.status_code == 422 and "field 'hf_config'" in detail(resp)


@pytest.mark.parametrize("arg", [str(HF / "Meta-Llama-3-70B" / "config.json"), str(HF / "Meta-Llama-3-70B"),
                                 "/etc/passwd", "../../pyproject.toml"])
def test_model_paths_are_never_read(client, arg):
    """Unlike the CLI, the API takes catalog ids only: an existing config.json path is an unknown model."""
    resp = client.post("/api/train", json={**TRAIN, "model": arg})
    assert resp.status_code == 422 and "unknown model" in detail(resp)
    assert client.post("/api/model-info", json={"model": arg}).status_code == 422


def test_no_field_takes_a_path(client):
    from flopwise.web.schemas import ModelInfoRequest, TrainRequest

    for model in (TrainRequest, ModelInfoRequest):
        for name in model.model_fields:
            assert not any(w in name for w in ("path", "file", "runs", "cluster")), name
    resp = client.post("/api/train", json={**TRAIN, "cluster_file": "/etc/hosts"})
    assert resp.status_code == 422 and "unknown field 'cluster_file'" in detail(resp)


def test_host_header_checked_when_bound_to_loopback():
    from flopwise.cli.web_cmd import allowed_hosts_for, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and allowed_hosts_for("0.0.0.0") is None
    with TestClient(create_app(allowed_hosts=allowed_hosts_for("127.0.0.1")), base_url="http://127.0.0.1:8000") as c:
        assert c.get("/api/health").status_code == 200
        assert c.get("/api/health", headers={"host": "attacker.example"}).status_code == 400
        assert c.get("/api/health", headers={"host": "localhost:8000"}).status_code == 200


# ---- the command ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_web_command_serves_and_rejects_a_busy_port(cli):
    import httpx

    help_text = cli("web", "--help", check=True).stdout
    assert "--host" in help_text and "--port" in help_text
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "flopwise.cli.main", "web", "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(150):
            try:
                if httpx.get(f"{url}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            pytest.fail("flopwise web did not start within 15 s")
        est = httpx.post(f"{url}/api/train", json=TRAIN, timeout=30).json()
        assert est["gpus"] == 64 and est["plan"]
        busy = cli("web", "--host", "127.0.0.1", "--port", str(port))
        assert busy.returncode == 2
        assert busy.stderr.strip().startswith("error: cannot listen on") and "--port" in busy.stderr
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert f"http://127.0.0.1:{port}/" in proc.stderr.read()


# ---- optional planners: serve, compare, fit, scale (tested when their modules are present) ------------

from flopwise.web.extras import available as _available  # noqa: E402

HAVE = _available()


def _needs(name):
    return pytest.mark.skipif(not HAVE[name], reason=f"the {name} planner module is not in this build")


@_needs("serve")
def test_serve_is_the_cli_json(client, cli):
    body = {"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "rate": "10/s", "ttft_p99": "1s", "tpot": "50ms"}
    got = client.post("/api/serve", json=body).json()
    want = json.loads(cli("serve", "llama-3-70b", "--gpu", "h100-sxm5-80gb", "--rate", "10/s", "--ttft-p99", "1s",
                          "--tpot", "50ms", "--json", check=True).stdout)
    for d in (got, want):
        d.pop("plan_s")
    assert got == want
    e = got["estimate"]
    assert e["meets_targets"] and e["ttft_p99_s"] <= 1.0 and e["tpot_s"] <= 0.05
    assert e["memory"]["fits"]


@_needs("serve")
@pytest.mark.parametrize("body, words", [
    ({"rate": "fast"}, ["rate must"]),
    ({"ttft_p99": "50"}, ["ttft_p99 must be a duration with a unit"]),
    ({"weights": "int3"}, ["precision 'int3'"]),
    ({"rate": "10/s", "concurrency": 5}, ["not both"]),
    ({"peak_factor": "10x"}, ["give rate too"]),
    ({"input_tokens": 0}, ["field 'input_tokens'"]),
    ({"rate": "inf/s"}, ["rate must be a positive finite number"]),
    ({"rate": "20/s", "weekly_growth": "1000%", "weeks": 520}, ["requests/s by week", "'weeks'"]),
])
def test_serve_bad_input(client, body, words):
    resp = client.post("/api/serve", json={"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", **body})
    assert resp.status_code == 422
    for w in words:
        assert w in detail(resp)


@_needs("compare")
def test_compare_training_pareto_front(client):
    body = {"model": "llama-3-8b", "tokens": "100B", "accelerators": ["h100-sxm5-80gb", "a100-sxm4-80gb"], "max_gpus": 256}
    res = client.post("/api/compare", json=body).json()
    assert res["mode"] == "train" and res["rows"] and res["pareto"]
    assert {r["accelerator"] for r in res["rows"]} <= {"h100-sxm5-80gb", "a100-sxm4-80gb"}
    for p in res["pareto"]:  # nothing on the front is beaten on both cost and time
        assert not any(r["cost_usd"] < p["cost_usd"] and r["days"] < p["days"] for r in res["rows"])
    assert client.post("/api/compare", json=body).json() == res  # cached answer is the same


@_needs("compare")
def test_compare_serving_and_errors(client):
    res = client.post("/api/compare", json={"model": "llama-3-8b", "mode": "serve", "tpot": "50ms"}).json()
    assert res["mode"] == "serve" and all(r["tpot_s"] <= 0.05 for r in res["rows"])
    assert "needs 'tokens'" in detail(client.post("/api/compare", json={"model": "llama-3-8b"}))
    assert "no prices for cloud(s) nowhere" in detail(client.post("/api/compare", json={"model": "llama-3-8b", "tokens": "1T", "clouds": ["nowhere"]}))
    assert "field 'sort'" in detail(client.post("/api/compare", json={"model": "llama-3-8b", "tokens": "1T", "sort": "vibes"}))


@_needs("fit")
def test_fit(client):
    res = client.post("/api/fit", json={"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "gpus": 8}).json()
    rows = {r["task"].split(" ")[0]: r for r in res["rows"]}
    assert not rows["pre-train"]["fits"] and rows["pre-train"]["min_gpus"] > 8
    assert rows["QLoRA"]["fits"]
    assert "field 'gpus'" in detail(client.post("/api/fit", json={"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "gpus": -1}))
    assert "give 'gpu'" in detail(client.post("/api/fit", json={"model": "llama-3-70b", "gpus": 8}))


@_needs("budget")
def test_budget_is_the_cli_json(client, cli):
    got = client.post("/api/budget", json={"gpu": "h100-sxm5-80gb", "usd": "1000"}).json()
    want = json.loads(cli("budget", "--gpu", "h100-sxm5-80gb", "--usd", "1000", "--json", check=True).stdout)
    assert got == want
    assert got["gpu_hours"] == pytest.approx(1000 / got["usd_per_gpu_hour"])
    have = client.post("/api/budget", json={"gpu": "a100-sxm4-80gb", "gpus": 8, "days": 1}).json()
    assert have["gpu_hours"] == pytest.approx(8 * 24)
    assert "field 'gpu'" in detail(client.post("/api/budget", json={"usd": 1000}))
    assert "unknown accelerator" in detail(client.post("/api/budget", json={"gpu": "h1000", "usd": 1000}))


@_needs("scale")
def test_scale_is_the_cli_json(client, cli):
    got = client.post("/api/scale", json={"compute": "5.76e23", "gpu": "h100-sxm5-80gb", "inference_tokens": "2T"}).json()
    want = json.loads(cli("scale", "--compute", "5.76e23", "--gpu", "h100-sxm5-80gb", "--inference-tokens", "2T", "--json",
                          check=True).stdout)
    assert got == want
    assert got["plots"]["isoflop"] and got["plots"]["loss_vs_compute"] and got["plots"]["cost_vs_size"]
    models = client.post("/api/scale", json={"models": ["llama-3-70b", "chinchilla-70b"]}).json()
    assert [m["model"] for m in models["models"]] == ["llama-3-70b", "chinchilla-70b"]
    assert "give only one of" in detail(client.post("/api/scale", json={"compute": "1e24", "params": "70B"}))
    assert "unknown model" in detail(client.post("/api/scale", json={"models": [str(HF / "gpt2" / "config.json")]}))
