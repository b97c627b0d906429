"""Shared test helpers: run the CLI in-process and capture exit code, stdout and stderr."""

from __future__ import annotations

import subprocess
import sys

import pytest


def run_cli(*args: str, check: bool = False) -> subprocess.CompletedProcess:
    """Run `flopwise ARGS` in a fresh interpreter (the real entry point, real exit codes)."""
    proc = subprocess.run([sys.executable, "-m", "flopwise.cli.main", *args], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"flopwise {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
    return proc


@pytest.fixture
def cli():
    return run_cli
