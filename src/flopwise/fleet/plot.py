"""Utilization and queue length over time (Plotly). `.html` embeds plotly.js, so it opens offline;
`.png` needs kaleido and a Chromium it can drive, otherwise one clear error line."""

from __future__ import annotations

from pathlib import Path

from flopwise.errors import FlopwiseError
from flopwise.fleet.metrics import FleetRun, downsample


def figure(run: FleetRun, bins: int = 1000):
    try:
        from plotly.subplots import make_subplots
        import plotly.graph_objects as go
    except ImportError:
        raise FlopwiseError("plots need plotly: pip install 'flopwise[web]'") from None
    r = run.result
    tl = downsample(run.sim, bins)
    if tl is None:
        raise FlopwiseError("nothing to plot: the simulation has fewer than two instants")
    hours = [t / 3600 for t in tl.t_s]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=(f"GPUs in use of {r.total_gpus}", "jobs waiting"))
    fig.add_trace(go.Scatter(x=hours, y=tl.gpus_busy, name="GPUs in use", mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(x=hours, y=tl.gpus_fragmented, name="idle but unusable (fragmentation)",
                             mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(x=hours, y=tl.queue_length, name="queue length", mode="lines"), row=2, col=1)
    fig.update_xaxes(title_text="hours since the first submission", row=2, col=1)
    fig.update_layout(title=f"{r.cluster}: policy {r.policy}, {r.jobs:,} jobs — utilization {100 * r.utilization:.1f}%, "
                      f"average JCT {r.avg_jct_s / 3600:.2f} h", height=650, width=1100,
                      legend=dict(orientation="h", yanchor="bottom", y=1.06, xanchor="left", x=0))
    return fig


def write_plot(run: FleetRun, path: Path | str) -> Path:
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in (".html", ".png"):
        raise FlopwiseError(f"--plot: unsupported file type '{ext or path.name}'; accepted: .html, .png")
    fig = figure(run)
    try:
        if ext == ".html":
            fig.write_html(str(path), include_plotlyjs=True)
            return path
        try:
            import kaleido  # noqa: F401
        except ImportError:
            raise FlopwiseError("PNG export needs kaleido and Chromium (pip install kaleido, then run "
                                "plotly_get_chrome); an .html plot works offline without them") from None
        try:
            fig.write_image(str(path))
        except Exception as exc:  # kaleido without a usable Chromium, among others
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise FlopwiseError(f"PNG export failed ({first[:160]}); kaleido needs Chromium "
                                "(plotly_get_chrome); an .html plot works offline") from None
    except OSError as exc:
        raise FlopwiseError(f"cannot write {path}: {exc.strerror}") from None
    return path
