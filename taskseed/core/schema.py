"""Typed config sections: one dataclass per stage section, registered as a Hydra structured config.

A section's dataclass holds its defaults and their meaning; conf/<group>/default.yaml lists `schema` in its
defaults and only overrides. Hydra then rejects an unknown key or a wrong type at compose time, and
`section()` builds the dataclass, whose `__post_init__` checks ranges and cross-field rules, so a bad value
fails before any stage runs with one line naming the key, the value and what is allowed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from taskseed.core.errors import TaskseedError

T = TypeVar("T")
SCHEMAS: dict[str, type] = {}


def register(group: str, store: bool = True):
    """Class decorator: `group`'s typed section (stored as `{group}/schema` in Hydra's ConfigStore, unless
    `store=False`: a section Hydra does not compose against, validated by `section()` alone)."""

    def add(schema: type[T]) -> type[T]:
        from hydra.core.config_store import ConfigStore

        if store:
            ConfigStore.instance().store(group=group, name="schema", node=schema)
        SCHEMAS[group] = schema
        return schema

    return add


def section(cfg: dict[str, Any], group: str) -> Any:
    """`cfg[group]` as its validated dataclass instance."""
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    schema = SCHEMAS[group]
    try:
        return OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(schema), cfg.get(group) or {}))
    except OmegaConfBaseException as err:
        key = f"{group}.{err.full_key}" if getattr(err, "full_key", None) else group
        from taskseed.core.config import _suggest

        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise TaskseedError(
            f"bad setting {key}: {message}{_suggest(message)}; see {schema.__module__}.{schema.__name__}"
        ) from None


def require(ok: bool, key: str, value: Any, allowed: str) -> None:
    """A range or rule check for `__post_init__`: one line naming the key, the bad value and what is allowed."""
    if not ok:
        raise TaskseedError(f"{key}={value!r} is not allowed; {allowed}")


def one_of(key: str, value: Any, choices: Iterable[Any]) -> None:
    choices = list(choices)
    require(value in choices, key, value, f"use one of {', '.join(map(str, choices))}")


def weights(key: str, table: dict[str, float], known: Iterable[str], need_positive: bool = True) -> None:
    """Non-negative weights over known names, summing to more than zero."""
    known = list(known)
    for name, weight in table.items():
        require(name in known, f"{key}.{name}", weight, f"known names are {', '.join(known)}")
        require(weight >= 0, f"{key}.{name}", weight, "weights must be >= 0")
    if need_positive:
        require(sum(table.values()) > 0, key, dict(table), "at least one weight must be > 0")
