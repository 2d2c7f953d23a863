"""Dataset licenses (a curated table in conf/tables/licenses.yaml) and the policy that admits them (DESIGN §4)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from taskseed.core.errors import TaskseedError

UNKNOWN = "unknown"
CLASS_ORDER = ("permissive", "share-alike", "noncommercial")  # most permissive first


@dataclass(frozen=True)
class LicenseTable:
    classes: dict[str, str]  # license id -> permissive | share-alike | noncommercial | ...
    policies: dict[str, list[str]]  # policy name -> admitted classes
    datasets: dict[str, Any]  # dataset_path -> id, or {license, source, configs: {dataset_name: id}}

    @classmethod
    def load(cls, path: Path) -> LicenseTable:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise TaskseedError(f"cannot read license table {path}: {err}; fix catalog.licenses") from None
        return cls(
            classes=raw.get("classes", {}), policies=raw.get("policies", {}), datasets=raw.get("datasets", {})
        )

    def license_of(self, dataset_path: str | None, dataset_name: str | None) -> str:
        entry = self.datasets.get(dataset_path or "")
        if entry is None:
            return UNKNOWN
        if isinstance(entry, str):
            return entry
        configs = entry.get("configs") or {}
        return str(configs.get(dataset_name, entry.get("license", UNKNOWN)))

    def class_of(self, license_id: str) -> str:
        """The license's class; for "A OR B" (the licensee's choice) the most permissive known class."""
        if license_id == UNKNOWN:
            return UNKNOWN
        options = [self.classes.get(part.strip(), UNKNOWN) for part in license_id.split(" OR ")]
        known = [c for c in CLASS_ORDER if c in options]
        return known[0] if known else UNKNOWN


@dataclass(frozen=True)
class LicensePolicy:
    name: str
    allowed_classes: frozenset[str]
    allowed_ids: frozenset[str]
    allow_unknown: bool

    @classmethod
    def from_config(cls, setting: Any, allow_unknown: bool, table: LicenseTable) -> LicensePolicy:
        if isinstance(setting, str):
            if setting not in table.policies:
                names = ", ".join(sorted(table.policies))
                raise TaskseedError(
                    f"unknown license policy {setting!r} in seeds.license_policy; use one of {names} or a list of license ids"
                )
            return cls(setting, frozenset(table.policies[setting]), frozenset(), bool(allow_unknown))
        if isinstance(setting, (list, tuple)) and setting and all(isinstance(s, str) for s in setting):
            ids = frozenset(setting)
            return cls("allow-list", frozenset(), ids, bool(allow_unknown) or UNKNOWN in ids)
        raise TaskseedError(
            f"invalid seeds.license_policy {setting!r}; use a policy name (e.g. commercial) or a list of license ids"
        )

    def admits(self, license_id: str, license_class: str) -> tuple[bool, str]:
        unknown = license_id == UNKNOWN or (license_class == UNKNOWN and license_id not in self.allowed_ids)
        if unknown:
            if self.allow_unknown:
                return True, "ok"
            return (
                False,
                f"license[unknown]: license {license_id!r} is not known to be usable; set seeds.allow_unknown_license=true to allow it",
            )
        if license_id in self.allowed_ids or license_class in self.allowed_classes:
            return True, "ok"
        return (
            False,
            f"license[policy]: {license_id} ({license_class}) is not allowed by policy {self.name!r}",
        )

    def describe(self) -> str:
        allowed = sorted(self.allowed_classes or self.allowed_ids)
        unknown = "unknown allowed" if self.allow_unknown else "unknown excluded"
        return f"{self.name}: {', '.join(allowed)}; {unknown}"
