"""`flopwise web`: serve the JSON API and the page with charts from one local process."""

from __future__ import annotations

import ipaddress
import socket
import sys

import typer

from flopwise.errors import FlopwiseError

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def allowed_hosts_for(host: str) -> list[str] | None:
    """Host headers accepted when bound to loopback (stops DNS rebinding); None = no check."""
    if not is_loopback(host):
        return None
    bare = host.strip("[]")
    return ["127.0.0.1", "localhost", "[::1]", f"[{bare}]" if ":" in bare else bare]


def check_port_free(host: str, port: int) -> None:
    """One clear line instead of uvicorn's traceback-ish exit when the port is taken."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FlopwiseError(f"cannot resolve --host {host}: {exc.strerror}") from None
    family, _, _, _, addr = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(addr)
        except OSError as exc:
            raise FlopwiseError(f"cannot listen on {host}:{port} ({exc.strerror}); try another --port, e.g. --port {port + 1}") from None


def web(
    host: str = typer.Option("127.0.0.1", "--host", help="address to listen on (default: this machine only)"),
    port: int = typer.Option(8000, "--port", help="TCP port"),
    open_browser: bool = typer.Option(False, "--open", help="open the page in the default browser"),
    log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level: critical, error, warning, info, debug"),
) -> None:
    """Serve the planner page (forms, tables, charts) and its JSON API (OpenAPI at /docs)."""
    if not 0 < port < 65536:
        raise FlopwiseError(f"--port must be between 1 and 65535, got {port}")
    if log_level not in {"critical", "error", "warning", "info", "debug", "trace"}:
        raise FlopwiseError(f"--log-level must be critical, error, warning, info or debug, got '{log_level}'")
    try:
        import uvicorn

        from flopwise.web.app import create_app
    except ModuleNotFoundError as exc:
        raise FlopwiseError(f"`flopwise web` needs the web extra ({exc.name} is missing): pip install 'flopwise[web]'") from None
    check_port_free(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    print(f"flopwise web: open {url}  (API docs: {url}docs; Ctrl+C to stop)", file=sys.stderr)
    if not is_loopback(host):
        print(f"warning: listening on {host}, not loopback: anyone who can reach this address can use the planner "
              "(it has no login)", file=sys.stderr)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    app = create_app(allowed_hosts=allowed_hosts_for(host))
    uvicorn.run(app, host=host, port=port, log_level=log_level, server_header=False, proxy_headers=False)


def register(app: typer.Typer) -> None:
    app.command("web")(web)
