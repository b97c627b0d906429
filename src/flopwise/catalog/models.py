"""Named model architectures (bundled models.yaml) and resolving a user's model argument."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from pydantic import ValidationError

from flopwise.catalog._files import load_yaml, read_yaml_file
from flopwise.errors import FlopwiseError, unknown
from flopwise.spec.model import ModelSpec


def pydantic_message(exc: ValidationError, what: str) -> str:
    """First validation problem of `exc` as one line: which field, what is wrong."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    return f"{what}: {msg}" if loc == "(top level)" else f"{what}: field '{loc}': {msg}"


@cache
def _catalog() -> dict[str, ModelSpec]:
    out: dict[str, ModelSpec] = {}
    for entry in load_yaml("models.yaml"):
        entry = dict(entry)
        mid = entry.pop("id")
        entry.pop("aliases", None)
        out[mid] = ModelSpec(**entry)
    return out


@cache
def _aliases() -> dict[str, str]:
    out = {}
    for entry in load_yaml("models.yaml"):
        for alias in entry.get("aliases", []) or []:
            out[alias.lower()] = entry["id"]
    return out


def model_ids() -> list[str]:
    return list(_catalog())


def get_model(model_id: str) -> ModelSpec:
    """A catalog model by id (or alias); unknown ids get close matches."""
    key = model_id.lower()
    cat = _catalog()
    if key in cat:
        return cat[key]
    if key in _aliases():
        return cat[_aliases()[key]]
    raise unknown("model", model_id, list(cat), hint="or give a path to a config.json / model YAML")


def _norm(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


@cache
def _by_norm_name() -> dict[str, str]:
    out: dict[str, str] = {}
    for entry in load_yaml("models.yaml"):
        for key in (entry["id"], entry.get("name", ""), *(entry.get("aliases", []) or [])):
            if key:
                out.setdefault(_norm(key), entry["id"])
    return out


def find_model_by_name(name: str) -> str | None:
    """The catalog id whose id, alias or display name equals `name` ignoring case, spaces and punctuation
    ("Llama 2 70B" -> llama-2-70b), else None."""
    return _by_norm_name().get(_norm(name)) if name else None


_SIZE_SUFFIX = re.compile(r"[\s_-]*(?:\d+x)?\d+(?:\.\d+)?\s*[mbt](?:[\s_-]*a\d+(?:\.\d+)?b)?$", re.IGNORECASE)


def series_source(name: str) -> str | None:
    """The catalog source of the model named `name`, else of a sibling size of its series ("Llama 2 34B"
    -> the Llama 2 paper, which published every size at once); None when the series is not in the catalog."""
    if (mid := find_model_by_name(name)) is not None:
        return get_model(mid).source
    series = _norm(_SIZE_SUFFIX.sub("", name or ""))
    if not series or series == _norm(name):
        return None
    for entry in load_yaml("models.yaml"):
        if _norm(_SIZE_SUFFIX.sub("", entry.get("name", ""))) == series:
            return entry.get("source", "") or None
    return None


def load_model_file(path: Path) -> ModelSpec:
    """A model from a Hugging Face config.json or a flopwise model YAML."""
    from flopwise.catalog.hf_config import model_from_hf_config

    if path.suffix.lower() == ".json":
        try:
            cfg = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise FlopwiseError(f"cannot read {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise FlopwiseError(f"{path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
        except UnicodeDecodeError:
            raise FlopwiseError(f"{path} is not a text file (a Hugging Face config.json is expected)") from None
        return model_from_hf_config(cfg, name=path.parent.name or path.stem)
    data = read_yaml_file(path)
    if not isinstance(data, dict):
        raise FlopwiseError(f"{path}: expected a mapping of model fields")
    data.pop("id", None)
    data.pop("aliases", None)
    data.setdefault("name", path.stem)
    try:
        return ModelSpec(**data)
    except ValidationError as exc:
        raise FlopwiseError(pydantic_message(exc, str(path))) from None
    except TypeError as exc:
        raise FlopwiseError(f"{path}: {exc}") from None


def resolve_model(arg: str) -> ModelSpec:
    """Catalog id, alias, or a path to config.json / YAML."""
    path = Path(arg)
    if path.suffix.lower() in {".json", ".yaml", ".yml"} or path.exists():
        if not path.exists():
            raise FlopwiseError(f"model file {arg} does not exist")
        if path.is_dir():
            path = path / "config.json"
            if not path.exists():
                raise FlopwiseError(f"directory {arg} has no config.json")
        return load_model_file(path)
    return get_model(arg)
