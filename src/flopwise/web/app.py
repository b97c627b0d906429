"""The FastAPI application behind `flopwise web`: JSON API, OpenAPI docs at /docs, and the page.

Rules kept here:
- Every endpoint returns the result object the matching CLI command prints with `--json`
  (`flopwise train --json` == POST /api/train), so the page, the CLI and the tests read the same numbers.
- Bad input is a 422 whose `detail` is one line a person can act on; a plan that cannot run is a 422
  with the planner's reason; a body over the size limit is a 413.
- Nothing is read from a path named in a request: models come from the catalog or from config.json
  text pasted into the body (parsed in memory), runs files only from the bundled catalog, and the
  static files from a fixed list.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.middleware.gzip import GZipMiddleware

from flopwise.errors import FlopwiseError, InfeasiblePlan, close_matches
from flopwise.report.format import to_jsonable
from flopwise.web.schemas import ModelInfoRequest, ModelRef, TrainRequest

STATIC_DIR = Path(__file__).parent / "static"
MAX_BODY_BYTES = 256 * 1024  # a pasted config.json is a few KiB; everything else is a handful of fields
DEFAULT_FORM = {"model": "llama-3-70b", "gpu": "h100-sxm5-80gb", "gpus": 64, "tokens": "1T"}

# The page's content-security policy: only this origin (no CDN, no inline script). Plotly sets inline
# styles on the elements it draws, hence 'unsafe-inline' for styles only.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


# ---- static assets: a fixed list, nothing derived from the request path beyond a dictionary key ----


def _package_dir(name: str) -> Path | None:
    """Directory of an installed package without importing it (None when it is not installed)."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def plotly_js_path() -> Path | None:
    """plotly.min.js shipped inside the `plotly` Python package (served locally; the page uses no CDN)."""
    d = _package_dir("plotly")
    p = d / "package_data" / "plotly.min.js" if d else None
    return p if p and p.is_file() else None


def _docs_assets() -> dict[str, Path]:
    """Swagger UI files from the `fastapi-offline` package, so /docs works without a network."""
    d = _package_dir("fastapi_offline")
    if not d:
        return {}
    files = {"swagger-ui-bundle.js": d / "static" / "swagger-ui-bundle.js", "swagger-ui.css": d / "static" / "swagger-ui.css",
             "favicon.png": d / "static" / "favicon.png"}
    return files if all(p.is_file() for p in files.values()) else {}


MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
         ".png": "image/png"}


def _static_files() -> dict[str, Path]:
    files = {name: STATIC_DIR / name for name in ("app.js", "sections.js", "style.css")}
    plotly = plotly_js_path()
    if plotly is not None:
        files["plotly.min.js"] = plotly
    for name, path in _docs_assets().items():
        files[f"docs/{name}"] = path
    return files


# ---- errors: one line a person can act on ------------------------------------------------------


def _loc(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    return ".".join(parts)


def validation_message(errors: list[dict], accepted: list[str] | None = None) -> str:
    """pydantic/FastAPI validation errors as one line: which field, what is wrong, what is accepted."""
    msgs = []
    for err in errors[:3]:
        kind, loc, msg = err.get("type", ""), _loc(err.get("loc", ())), str(err.get("msg", ""))
        if kind == "json_invalid":
            reason = (err.get("ctx") or {}).get("error", "")
            msgs.append(f"request body is not valid JSON ({reason})" if reason else "request body is not valid JSON")
        elif kind == "extra_forbidden":
            field = loc.split(".")[-1]
            near = close_matches(field, accepted or [])
            hint = f"; did you mean '{near[0]}'?" if near else ""
            msgs.append(f"unknown field '{field}'{hint}" + (f" (accepted: {', '.join(accepted)})" if accepted and not near else ""))
        elif kind == "missing":
            msgs.append(f"field '{loc}' is required" if loc else "a request body (JSON object) is required")
        elif kind in ("model_attributes_type", "dict_type", "model_type"):
            msgs.append("the request body must be a JSON object of fields" if not loc else f"field '{loc}': {msg}")
        else:
            msg = msg.removeprefix("Value error, ")
            got = err.get("input")
            shown = f" (got {json.dumps(got)[:60]})" if isinstance(got, (int, float, str)) and not isinstance(got, bool) and kind != "value_error" else ""
            msgs.append(f"field '{loc}': {msg}{shown}" if loc else msg)
    if len(errors) > 3:
        msgs.append(f"and {len(errors) - 3} more")
    return "; ".join(msgs)


def _error(status: int, detail: str, kind: str, **extra: Any) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail, "error": kind, **extra})


# ---- ASGI middlewares (plain, so they see every request before FastAPI parses anything) ----------


class BodyLimitMiddleware:
    """Reject request bodies over `max_bytes` with 413, whether or not Content-Length is sent."""

    def __init__(self, app, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def _reject(self, send) -> None:
        body = json.dumps({"detail": f"request body is larger than {self.max_bytes // 1024} KiB; a config.json is a few KiB "
                                     "and the other fields are a handful of numbers", "error": "too_large"}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    if int(value) > self.max_bytes:
                        return await self._reject(send)
                except ValueError:
                    return await self._reject(send)
        # read the whole (small) body here, counting bytes, then replay it to the application
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return await self._reject(send)
            chunks.append(chunk)
            if not msg.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        return await self.app(scope, replay, send)


class SecurityHeadersMiddleware:
    """nosniff, no referrer, no framing; the strict CSP on everything but Swagger UI (inline script)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        docs = scope.get("path", "") in ("/docs", "/docs/oauth2-redirect")

        async def send_with_headers(msg):
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"DENY")]
                if not docs:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                msg = {**msg, "headers": headers}
            await send(msg)

        return await self.app(scope, receive, send_with_headers)


# ---- the computations (the same calls the CLI commands make) ------------------------------------


def resolve_spec(ref: ModelRef):
    """A ModelSpec from a catalog id or pasted config.json text; never from a path."""
    from flopwise.catalog.hf_config import model_from_hf_config
    from flopwise.catalog.models import get_model

    cfg = ref.config_dict()
    if cfg is not None:
        return model_from_hf_config(cfg, name=ref.hf_name or "pasted config.json")
    return get_model(ref.model or "")


# The planners' messages name CLI flags and offer file paths; the API's callers send JSON fields instead.
_FIELD_FOR_FLAG = {"input": "input_tokens", "output": "output_tokens"}
_PATH_HINT = "(or give a path to a config.json / model YAML)"


def web_message(msg: str) -> str:
    """A planner error as the API's caller should read it: field names for flags, hf_config for paths."""
    msg = msg.replace(_PATH_HINT, "(or paste a Hugging Face config.json as hf_config)")
    return re.sub(r"--([a-z][a-z0-9-]*)",
                  lambda m: "'" + _FIELD_FOR_FLAG.get(m.group(1), m.group(1).replace("-", "_")) + "'", msg)


def _model_summary(mid: str) -> dict:
    from flopwise.catalog.models import get_model

    m = get_model(mid)
    return {"id": mid, "name": m.name, "family": m.family, "params_total": m.params_total, "params_active": m.params_active,
            "moe": m.is_moe, "layers": m.n_layers, "d_model": m.d_model, "max_seq_len": m.max_seq_len}


@lru_cache(maxsize=1)
def catalog() -> dict:
    """What the page's forms offer: models, accelerators, systems, choices and defaults."""
    from flopwise.catalog.accelerators import all_accelerators
    from flopwise.catalog.models import model_ids
    from flopwise.catalog.systems import get_system, system_ids
    from flopwise.estimate.memory import OPTIMIZER_STATE_BYTES

    accs = []
    for a in all_accelerators():
        accs.append({
            "id": a.id, "name": a.name, "vendor": a.vendor, "memory_bytes": a.memory_bytes,
            "mem_bw_bytes_per_s": a.mem_bw_bytes_per_s,
            "bf16_flops_per_s": a.peak("bf16") if a.supports("bf16") else None,
            "fp8_flops_per_s": a.peak_flops_per_s.get("fp8"), "usable": a.usable,
        })
    systems = [{"id": s, "accelerator": get_system(s).accelerator.id, "gpus_per_node": get_system(s).gpus_per_node}
               for s in system_ids()]
    return {
        "models": [_model_summary(m) for m in model_ids()],
        "accelerators": accs,
        "systems": systems,
        "precisions": ["bf16", "fp16", "fp8", "fp32"],
        "optimizers": list(OPTIMIZER_STATE_BYTES),
        "validation_kinds": ["training", "inference"],
        "failure_models": _failure_model_ids(),
        "defaults": DEFAULT_FORM,
        "features": features(),
        "version": _version(),
        **_catalog_extras(),
    }


def _catalog_extras() -> dict:
    from flopwise.web import extras

    return extras.catalog_extras()


def _failure_model_ids() -> list[str]:
    from flopwise.catalog.failures import default_failure_model_id, failure_model_ids

    default = default_failure_model_id()
    return [default] + [m for m in failure_model_ids() if m != default]


def features() -> dict[str, bool]:
    """Which sections the API and page offer (optional planners register when their modules exist)."""
    from flopwise.web import extras

    return {"model": True, "train": True, "validate": True, **extras.available()}


def run_training(req: TrainRequest) -> dict:
    """POST /api/train: what `flopwise train --json` prints, plus per-plan breakdowns for the charts.

    Runs the same plan.training.run_training as the CLI (tests/test_web_api.py compares the two outputs);
    the model is a catalog id or pasted config and the failure model a bundled id, never a path.
    """
    from flopwise.catalog.failures import get_failure_model
    from flopwise.catalog.prices import fill_default_prices
    from flopwise.catalog.systems import make_cluster
    from flopwise.plan.training import make_job, run_training

    spec = resolve_spec(req)
    cluster = make_cluster(req.gpu, req.system, None, req.gpus_per_node, req.nvlink_gb_per_s, req.network_gbit_per_s)
    job = make_job(spec, cluster, req.gpus, req.global_batch, req.seq_len, req.precision, req.optimizer, req.tokens)
    price, _, price_note = fill_default_prices(cluster.accelerator.id, req.price_per_gpu_hour)
    est, fixed = run_training(
        job, req.gpus, req.tokens, price, mfu=req.mfu, plan=req.plan, objective=req.objective, max_days=req.max_days,
        top=req.top, failure_model=get_failure_model(req.failure_model) if req.failures else None,
        async_checkpoint=req.async_checkpoint, max_job_hours=req.max_job_hours, simulate_runs=req.simulate,
    )
    out = est.model_dump()
    out["price_source"] = price_note
    out["top_plan_breakdowns"] = _top_breakdowns(job, est.gpus, req.tokens, price, fixed, req.top) if req.mfu is None else []
    return out


def _top_breakdowns(job, n_gpus: int, tokens: float, price, fixed: dict | None, top: int) -> list[dict]:
    """Memory and step time by component for each of the ranked plans (the charts compare them)."""
    from flopwise.plan.search import SearchSpace, search
    from flopwise.plan.training import estimate_from_search

    space = SearchSpace.pinned(fixed) if fixed else SearchSpace()
    result = search(job, n_gpus, space)
    out = []
    for k in range(min(top, len(result.ranked))):
        e = estimate_from_search(result, k, tokens, price, top=0)
        out.append({"rank": k + 1, "plan": result.plan(k).label(), "memory": e.memory.model_dump(),
                    "step_time": e.step_time.model_dump() if e.step_time else None, "mfu": e.mfu, "days": e.days,
                    "cost_usd": e.cost_usd})
    return out


@lru_cache(maxsize=4)
def validation_report(kind: str) -> dict:
    """The bundled runs file scored (the same as `flopwise validate --kind KIND --json`); cached."""
    from flopwise.cli.validate_cmd import score_file

    return score_file(None, kind).model_dump()


# ---- the application --------------------------------------------------------------------------


def create_app(allowed_hosts: list[str] | None = None, max_body_bytes: int = MAX_BODY_BYTES) -> FastAPI:
    """The web application. `allowed_hosts` (e.g. 127.0.0.1, localhost) turns on Host-header checks,
    which stop DNS-rebinding pages from reaching a server bound to loopback."""
    docs = _docs_assets()
    app = FastAPI(
        title="flopwise",
        version=_version(),
        summary="What will this take? FLOPs, memory, parallel layout, time and cost of training and serving AI models.",
        description="The JSON API behind `flopwise web`. Each endpoint returns the object the matching CLI command "
                    "prints with `--json`. Errors are `{\"detail\": one line, \"error\": kind}` with status 422 "
                    "(bad input or a plan that cannot run) or 413 (body over the size limit).",
        docs_url=None if docs else "/docs",  # with fastapi-offline installed, /docs is served from local files below
        redoc_url=None,
    )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        accepted = None
        if any(e.get("type") == "extra_forbidden" for e in exc.errors()):
            accepted = _accepted_fields(request.url.path)
        return _error(422, validation_message(list(exc.errors()), accepted), "invalid_input",
                      errors=[{"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in exc.errors()[:10]])

    @app.exception_handler(InfeasiblePlan)
    async def _infeasible(request: Request, exc: InfeasiblePlan):
        return _error(422, web_message(str(exc)), "infeasible")

    @app.exception_handler(FlopwiseError)
    async def _flopwise(request: Request, exc: FlopwiseError):
        return _error(422, web_message(str(exc)), "invalid_input")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):  # pragma: no cover - a bug, not bad input
        return _error(500, f"internal error ({type(exc).__name__}); please report it with the request that caused it", "internal")

    # ---- page and static files
    static = _static_files()

    @app.get("/", include_in_schema=False)
    def index() -> Response:
        return FileResponse(STATIC_DIR / "index.html", media_type=MEDIA[".html"], headers={"cache-control": "no-cache"})

    @app.get("/static/{name:path}", include_in_schema=False)
    def static_file(name: str) -> Response:
        path = static.get(name)
        if path is None:
            hint = " (install the web extra: pip install 'flopwise[web]')" if name == "plotly.min.js" else ""
            return _error(404, f"no static file '{name}'{hint}", "not_found")
        cache = "public, max-age=86400" if name.endswith("plotly.min.js") or name.startswith("docs/") else "no-cache"
        return FileResponse(path, media_type=MEDIA.get(path.suffix, "application/octet-stream"), headers={"cache-control": cache})

    if docs:
        @app.get("/docs", include_in_schema=False)
        def swagger() -> HTMLResponse:
            return get_swagger_ui_html(openapi_url=app.openapi_url or "/openapi.json", title="flopwise API",
                                       swagger_js_url="/static/docs/swagger-ui-bundle.js",
                                       swagger_css_url="/static/docs/swagger-ui.css",
                                       swagger_favicon_url="/static/docs/favicon.png")

    # ---- API
    @app.get("/api/health", tags=["meta"], summary="liveness and version")
    def health() -> dict:
        return {"status": "ok", "version": _version(), "plotly_js": "plotly.min.js" in static}

    @app.get("/api/catalog", tags=["catalog"], summary="models, accelerators, systems and choices for the forms")
    def get_catalog() -> dict:
        return catalog()

    @app.get("/api/models/{model_id}", tags=["model"], summary="`flopwise model show ID --json` for a catalog model")
    def get_model_info(model_id: str, context: int | None = Query(None, gt=0, le=10_000_000)) -> JSONResponse:
        from flopwise.catalog.models import get_model
        from flopwise.estimate.model_info import model_info

        return JSONResponse(to_jsonable(model_info(get_model(model_id), context)))

    @app.post("/api/model-info", tags=["model"],
              summary="parameter counts, FLOPs per token and memory of a catalog model or a pasted config.json")
    def post_model_info(req: ModelInfoRequest) -> JSONResponse:
        from flopwise.estimate.model_info import model_info

        return JSONResponse(to_jsonable(model_info(resolve_spec(req), req.context)))

    @app.post("/api/train", tags=["train"],
              summary="`flopwise train --json`: best parallel plan, memory and step time by component, days and cost")
    def post_train(req: TrainRequest) -> JSONResponse:
        return JSONResponse(to_jsonable(run_training(req)))

    @app.get("/api/validate", tags=["validate"],
             summary="`flopwise validate --kind KIND --json` on the bundled published runs")
    def get_validate(kind: Literal["training", "inference"] = Query("training")) -> JSONResponse:
        return JSONResponse(to_jsonable(validation_report(kind)))

    @app.get("/api/validate/row", tags=["validate"],
             summary="`flopwise validate --row ID --json`: one bundled run, with its step-time and memory breakdown")
    def get_validate_row(id: str = Query(..., max_length=200, description="row id, e.g. pythia-70m"),
                         kind: Literal["training", "inference"] = Query("training")) -> JSONResponse:
        from flopwise.cli.validate_cmd import score_file

        return JSONResponse(to_jsonable(score_file(None, kind, only=[id]).rows[0]))

    # optional planners (serve, compare, fit, scale): registered when their modules are present
    from flopwise.web import extras

    extras.register(app)

    # outermost last: body limit before anything parses, then hosts, then headers, then compression
    app.add_middleware(GZipMiddleware, minimum_size=2048)
    app.add_middleware(SecurityHeadersMiddleware)
    if allowed_hosts:
        from starlette.middleware.trustedhost import TrustedHostMiddleware

        app.add_middleware(TrustedHostMiddleware, allowed_hosts=allowed_hosts)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    return app


def _accepted_fields(path: str) -> list[str] | None:
    from flopwise.web import extras

    models = {"/api/train": TrainRequest, "/api/model-info": ModelInfoRequest, **extras.REQUEST_MODELS}
    m = models.get(path)
    return list(m.model_fields) if m else None


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("flopwise")
    except Exception:  # noqa: BLE001 - running from a source tree without metadata
        return "0+unknown"
