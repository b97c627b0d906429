"""Plotly figures for `flopwise scale`: IsoFLOP curves, loss vs compute, lifetime cost vs model size.

Plotly is an optional dependency (the `web` extra) and is imported only when a plot is asked for.
HTML output embeds plotly.js so the file works offline. PNG (and SVG/PDF) export goes through kaleido (>= 1),
which drives a Chromium/Chrome found on the system (or set BROWSER_PATH); when either is missing the user
gets one line suggesting an .html path instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flopwise.errors import FlopwiseError

if TYPE_CHECKING:
    from flopwise.estimate.scaling import ScalingPlots

IMAGE_SUFFIXES = {".png", ".svg", ".pdf", ".jpg", ".jpeg", ".webp"}
HTML_SUFFIXES = {".html", ".htm"}


def _plotly() -> tuple[Any, Any]:
    try:
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots
    except ImportError:
        raise FlopwiseError("plotting needs plotly: pip install 'flopwise[web]'") from None
    return go, make_subplots


def png_export_available() -> tuple[bool, str]:
    """Whether static image export can run here, and why not."""
    try:
        import kaleido  # noqa: F401
        from importlib.metadata import version

        major = int(version("kaleido").split(".")[0])
    except Exception:  # noqa: BLE001 - any import/metadata failure means "not available"
        return False, "kaleido is not installed (pip install kaleido)"
    if major < 1:
        return False, f"kaleido {version('kaleido')} is too old for plotly (need kaleido >= 1)"
    try:
        from choreographer.browsers.chromium import Chromium

        path = Chromium.find_browser(skip_local=False)
    except Exception:  # noqa: BLE001
        path = None
    if not path:
        return False, "no Chromium/Chrome browser found (install chromium, or set BROWSER_PATH)"
    return True, path


def scaling_figure(plots: ScalingPlots, title: str = "") -> Any:
    """One figure, three panels: IsoFLOP curves, loss vs compute, lifetime cost vs model size."""
    go, make_subplots = _plotly()
    cost_label = "lifetime cost ($)" if plots.cost_unit == "usd" else "lifetime compute (FLOPs)"
    fig = make_subplots(
        rows=1, cols=3, horizontal_spacing=0.07,
        subplot_titles=(
            f"IsoFLOP curves ({plots.isoflop_loss} loss), ★ {plots.law} optimum",
            "Loss of the compute-optimal model vs training compute",
            f"Training + inference at loss {plots.target_loss:.4f} ({plots.loss_law})",
        ),
    )
    for c in plots.isoflop:
        fig.add_trace(go.Scatter(x=c.x, y=c.y, mode="lines", name=c.label, legendgroup="iso"), row=1, col=1)
        if c.marker_x is not None:
            fig.add_trace(go.Scatter(x=[c.marker_x], y=[c.marker_y], mode="markers", showlegend=False,
                                     marker=dict(symbol="star", size=11, color="black"),
                                     hovertext=f"optimum {c.marker_x:.3g} params"), row=1, col=1)
    for i, c in enumerate(plots.loss_vs_compute):
        if i == 0:
            fig.add_trace(go.Scatter(x=c.x, y=c.y, mode="lines", name=c.label, line=dict(color="black")), row=1, col=2)
        else:
            fig.add_trace(go.Scatter(x=c.x, y=c.y, mode="markers+text", name=c.label, text=[c.label],
                                     textposition="top center", marker=dict(size=10)), row=1, col=2)
    for c in plots.cost_vs_size:
        fig.add_trace(go.Scatter(x=c.x, y=c.y, mode="lines", name=c.label, legendgroup="cost"), row=1, col=3)
        if c.marker_x is not None:
            fig.add_trace(go.Scatter(x=[c.marker_x], y=[c.marker_y], mode="markers", showlegend=False,
                                     marker=dict(symbol="circle-open", size=11, color="black", line=dict(width=2)),
                                     hovertext=f"optimum {c.marker_x:.3g} params"), row=1, col=3)
    for col in (1, 2, 3):
        fig.update_xaxes(type="log", row=1, col=col)
    fig.update_yaxes(type="log", row=1, col=3)
    fig.update_xaxes(title_text="parameters", row=1, col=1)
    fig.update_xaxes(title_text="training FLOPs", row=1, col=2)
    fig.update_xaxes(title_text="parameters", row=1, col=3)
    fig.update_yaxes(title_text="loss (nats/token)", row=1, col=1)
    fig.update_yaxes(title_text="loss (nats/token)", row=1, col=2)
    fig.update_yaxes(title_text=cost_label, row=1, col=3, tickprefix="$" if plots.cost_unit == "usd" else "")
    fig.update_layout(title=title or "flopwise scale", width=1650, height=560, template="plotly_white",
                      legend=dict(font=dict(size=10)))
    return fig


def write_figure(fig: Any, path: Path) -> Path:
    """Write `fig` as self-contained HTML or a static image, by suffix; one clear line when that cannot run."""
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES | HTML_SUFFIXES:
        raise FlopwiseError(f"cannot write plot '{path}': unknown format '{suffix or '(none)'}'; use .png or .html")
    if not path.parent.exists():
        raise FlopwiseError(f"cannot write plot '{path}': folder {path.parent} does not exist")
    if suffix in HTML_SUFFIXES:
        fig.write_html(str(path), include_plotlyjs=True, full_html=True)
        return path
    ok, why = png_export_available()
    if not ok:
        raise FlopwiseError(f"cannot write {path}: {suffix[1:].upper()} export needs kaleido and Chromium ({why}); "
                            f"write HTML instead: --plot {path.with_suffix('.html')}")
    try:
        fig.write_image(str(path))
    except Exception as exc:  # noqa: BLE001 - kaleido/Chromium failures come in many types
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise FlopwiseError(f"cannot write {path}: image export failed ({first}); "
                            f"write HTML instead: --plot {path.with_suffix('.html')}") from None
    return path
