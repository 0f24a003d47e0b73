"""Training recipes: a named set of `bytesim train` settings in a TOML file.

`bytesim train --recipe cpu --out runs/cpu` reads `bytesim/recipes/cpu.toml` (a shipped name) or
any TOML file given by path. A recipe holds the data (`data = ["gen:cpu"]`), any `train` option
under its Python name (`steps`, `lr`, `min_lr`, `batch_size`, `changed_weight`, ...) and the
model settings under `[set]` (what `--set FIELD=VALUE` gives). An option given on the command
line wins over the recipe's; `--set` fields are merged, the command line's last.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: the same parser as a package
    import tomli as tomllib

from bytesim.model import ModelConfig
from bytesim.train import TrainConfig, TrainError

RECIPES = Path(__file__).parent / "recipes"
# TrainConfig fields a recipe may not set: where the run goes and how long this one invocation runs
_NOT_IN_RECIPES = {"out", "overrides", "eval_data", "device", "stop_after"}


def names() -> list[str]:
    """The shipped recipes' names."""
    return sorted(p.stem for p in RECIPES.glob("*.toml"))


def path_of(recipe: str) -> Path:
    """A shipped name or a path to a .toml file."""
    if recipe in names():
        return RECIPES / f"{recipe}.toml"
    path = Path(recipe)
    if path.suffix == ".toml" or path.exists():
        return path
    raise TrainError(f"no recipe {recipe!r}: the shipped ones are {', '.join(names())}, or a .toml")


def load(recipe: str) -> dict:
    """The recipe's settings: TrainConfig field -> value, `overrides` holding its [set] table.

    Unknown keys, wrong types and unreadable files are a TrainError naming the file and key.
    """
    path = path_of(recipe)
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise TrainError(f"{path}: cannot read the recipe ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise TrainError(f"{path}: not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise TrainError(f"{path}: not TOML: {e}") from None
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    out: dict = {}
    for key, value in table.items():
        if key == "description":
            continue
        if key == "set":
            if not isinstance(value, dict):
                raise TrainError(f"{path}: 'set' must be a table of model settings")
            for name in value:
                if name not in model_fields:
                    raise TrainError(
                        f"{path}: [set] {name!r} is not a model setting "
                        f"(one of {', '.join(sorted(model_fields))})"
                    )
            out["overrides"] = dict(value)
            continue
        if key not in fields or key in _NOT_IN_RECIPES:
            allowed = sorted(set(fields) - _NOT_IN_RECIPES)
            raise TrainError(
                f"{path}: {key!r} is not a recipe setting (one of {', '.join(allowed)}, set)"
            )
        _check_type(path, key, value, TrainConfig.__annotations__[key])
        out[key] = value
    if not out.get("data"):
        raise TrainError(f"{path}: a recipe needs data = [...] (files, folders or gen:NAME)")
    return out


def _check_type(path: Path, key: str, value, annotation: str) -> None:
    kinds = {"int": int, "float": (int, float), "str": str, "list[str]": list}
    for name, kind in kinds.items():
        if annotation.startswith(name):
            ok = isinstance(value, kind) and not isinstance(value, bool)
            if name == "list[str]":
                ok = ok and all(isinstance(v, str) for v in value)
            if not ok:
                raise TrainError(f"{path}: {key} = {value!r} is not of type {annotation}")
            return
