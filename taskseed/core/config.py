"""Hydra configuration: compose the tree in conf/ with command-line overrides, resolve, flatten."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from taskseed.core.errors import TaskseedError

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # taskseed/


def conf_dir() -> Path:
    """conf/ beside the package (editable install / checkout); TASKSEED_CONF points elsewhere."""
    path = Path(os.environ.get("TASKSEED_CONF", PACKAGE_DIR.parent / "conf")).resolve()
    if not (path / "config.yaml").is_file():
        raise TaskseedError(
            f"config tree not found at {path}; set TASKSEED_CONF to the project's conf/ directory"
        )
    return path


def project_root() -> Path:
    return conf_dir().parent


if not OmegaConf.has_resolver("ts.root"):
    OmegaConf.register_new_resolver("ts.root", lambda: str(project_root()))


def compose(overrides: list[str] | tuple[str, ...] = (), config_name: str = "config") -> DictConfig:
    """The resolved config for these overrides; bad overrides become one-line TaskseedErrors."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(conf_dir()), version_base=None, job_name="taskseed"):
            cfg = hydra_compose(config_name=config_name, overrides=list(overrides))
        apply_arm(cfg, overrides)
        OmegaConf.resolve(cfg)
    except (HydraException, OmegaConfBaseException) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        cause = str(err.__cause__ or "").strip().splitlines()
        detail = f" ({cause[0]})" if cause and cause[0] not in first else ""
        raise TaskseedError(
            f"bad configuration override: {first}{detail}{_suggest(first + detail)}; "
            "`taskseed config` prints every key with its default"
        ) from None
    finally:
        GlobalHydra.instance().clear()
    return cfg


def apply_arm(cfg: DictConfig, user_overrides: list[str] | tuple[str, ...] = ()) -> None:
    """Apply the overrides of the experiment arm `cfg.arm` names (experiment.arms.<arm>), in place, before
    interpolations resolve. A key the user overrode keeps the user's value.

    Both `compose` and a Hydra multirun job call this, so `arm=control` means the same under every launcher."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    arm = cfg.get("arm")
    if arm is None:
        return
    arms = OmegaConf.select(cfg, "experiment.arms")
    if arms is None:
        raise TaskseedError(f"arm={arm} needs an experiment: add +experiment=NAME (a file in experiments/)")
    if arm not in arms:
        raise TaskseedError(
            f"unknown arm {arm!r} of experiment {cfg.experiment.name}; arms: {', '.join(arms)}"
        )
    parser = OverridesParser.create()
    user_keys = {o.key_or_group for o in parser.parse_overrides(list(user_overrides))}
    for override in parser.parse_overrides(list(arms[arm])):
        key = override.key_or_group
        if key in user_keys:
            continue
        if override.is_delete():
            raise TaskseedError(
                f"experiment.arms.{arm}: {override.input_line!r}; an arm sets keys, it cannot delete them"
            )
        if OmegaConf.select(cfg, key, default=_MISSING) is _MISSING and not override.is_add():
            raise TaskseedError(
                f"experiment.arms.{arm}: unknown key {key!r} in {override.input_line!r}; arms set keys of conf/"
            )
        OmegaConf.update(cfg, key, override.value(), merge=False, force_add=override.is_add())


_MISSING = object()


def to_dict(cfg: DictConfig | dict | None) -> dict[str, Any]:
    if cfg is None:
        return {}
    if isinstance(cfg, DictConfig):
        return OmegaConf.to_container(cfg, resolve=True)  # type: ignore[return-value]
    return dict(cfg)


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """Dotted keys to scalar strings (lists as JSON), the form MLflow params take."""
    if isinstance(tree, DictConfig):
        tree = to_dict(tree)
    out: dict[str, str] = {}
    if isinstance(tree, dict):
        for key, value in tree.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict) and value:
                out.update(flatten(value, name))
            else:
                out[name] = (
                    value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
                )
    else:
        out[prefix] = json.dumps(tree, sort_keys=True, default=str)
    return out


def _suggest(message: str) -> str:
    """For an unknown key of a typed section, the closest key it has ("did you mean tasks?")."""
    import dataclasses
    import difflib
    import re
    import typing

    from taskseed.core.schema import SCHEMAS

    found = re.search(r"Key '([^']+)' not in '(\w+)'", message)
    if not found:
        return ""
    todo, seen = list(SCHEMAS.values()), set()
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if cls.__name__ == found.group(2):
            keys = [f.name for f in dataclasses.fields(cls)]
            close = difflib.get_close_matches(found.group(1), keys, n=1)
            return f"; did you mean {close[0]}?" if close else f"; its keys: {', '.join(keys)}"
        todo += [t for t in typing.get_type_hints(cls).values() if dataclasses.is_dataclass(t)]
    return ""
