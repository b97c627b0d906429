"""Where bundled data files live, and reading them with clear errors."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources
from pathlib import Path

import yaml

from flopwise.errors import FlopwiseError

DATA_DIR = Path(str(resources.files("flopwise.catalog") / "data"))


def data_path(name: str) -> Path:
    """Path of a bundled data file."""
    return DATA_DIR / name


_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~8x faster


@cache
def load_yaml(name: str):
    """Parse a bundled YAML file (cached)."""
    with open(data_path(name), encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_SafeLoader)


def read_yaml_file(path: Path):
    """Parse a user's YAML file; a malformed one is a FlopwiseError naming the file."""
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except OSError as exc:
        raise FlopwiseError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise FlopwiseError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    except UnicodeDecodeError:
        raise FlopwiseError(f"{path} is not a text file (a YAML file is expected)") from None


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file as dicts; unreadable files are a FlopwiseError."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    except OSError as exc:
        raise FlopwiseError(f"cannot read {path}: {exc.strerror}") from None
    except csv.Error as exc:
        raise FlopwiseError(f"{path} is not a valid CSV file: {exc}") from None
    except UnicodeDecodeError:
        raise FlopwiseError(f"{path} is not a text file (a CSV file is expected)") from None
