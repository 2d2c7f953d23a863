"""`taskseed catalog`: every task in lm-eval's registry, with the facts that decide whether it can seed.

Per task: group (its folder in lm-eval's task tree), declared splits, output type, family (curated table),
license (curated table), availability (mirror | hub | missing) and the split-firewall verdict. Eligibility
also depends on the license policy, so it is computed from these facts when read (`eligibility`).
"""

from __future__ import annotations

import fnmatch
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from taskseed.core.artifacts import Artifact, file_digest
from taskseed.core.display import summary_table
from taskseed.core.errors import FirewallError, TaskseedError
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.sources.config import CatalogConfig
from taskseed.sources.data import DataSource
from taskseed.sources.firewall import check_task, evaluated_splits, protected_suites, split_key
from taskseed.sources.licenses import LicensePolicy, LicenseTable

log = logging.getLogger(__name__)

STAGE = "catalog"
VERSION = "1"
PUBLIC_KEYS = (
    "task", "group", "dataset_path", "dataset_name", "training_split", "validation_split", "test_split",
    "output_type", "family", "license", "license_class", "availability", "eligible", "reason",
)  # fmt: skip


class Registry:
    """lm-eval's task index (YAML parsed, functions unresolved): names, configs, groups, suite expansion."""

    def __init__(self, include_paths: list[str] | tuple[str, ...] = ()):
        import lm_eval.tasks as lm_tasks
        from lm_eval.tasks import TaskManager

        self.include_paths = [Path(p).resolve() for p in include_paths]
        for path in self.include_paths:
            if not path.is_dir():
                raise TaskseedError(f"lm-eval include path {path} does not exist; fix catalog.include_paths")
        self.roots = [Path(lm_tasks.__file__).parent, *self.include_paths]
        manager = TaskManager(include_path=[str(p) for p in self.include_paths] or None)
        self.index = manager.task_index

    def tasks(self) -> list[str]:
        return sorted(n for n, e in self.index.items() if e.kind.name in ("TASK", "PY_TASK"))

    def config(self, name: str) -> dict[str, Any]:
        return dict(self.index[name].cfg or {})

    def kind(self, name: str) -> str:
        return self.index[name].kind.name.lower()

    def group_of(self, name: str) -> str:
        path = self.index[name].yaml_path
        if path is None:
            return name
        for root in self.roots:
            try:
                rel = Path(path).relative_to(root)
            except ValueError:
                continue
            return rel.parts[0] if len(rel.parts) > 1 else name
        return name

    def parents(self) -> dict[str, list[str]]:
        """Groups and tags that list each task (lm-eval's own group/tag membership)."""
        out: dict[str, set[str]] = defaultdict(set)
        for name, entry in self.index.items():
            if entry.kind.name == "GROUP":
                for item in _as_list((entry.cfg or {}).get("task")):
                    child = (
                        item
                        if isinstance(item, str)
                        else (item.get("task") or item.get("group"))
                        if isinstance(item, dict)
                        else None
                    )
                    if isinstance(child, str):
                        out[child].add(name)
            elif entry.kind.name == "TAG":
                for child in entry.tags:
                    out[child].add(name)
        return {k: sorted(v) for k, v in out.items()}

    def expand(self, name: str, _seen: frozenset[str] = frozenset()) -> list[tuple[str, dict[str, Any]]]:
        """Leaf tasks (name, config) of a task, group or tag."""
        if name not in self.index:
            raise KeyError(name)
        if name in _seen:
            return []
        entry = self.index[name]
        seen = _seen | {name}
        if entry.kind.name in ("TASK", "PY_TASK"):
            return [(name, self.config(name))]
        if entry.kind.name == "TAG":
            return [leaf for child in sorted(entry.tags) for leaf in self.expand(child, seen)]
        leaves = []
        for item in _as_list((entry.cfg or {}).get("task")):
            if isinstance(item, str):
                leaves += self.expand(item, seen) if item in self.index else []
            elif isinstance(item, dict) and isinstance(item.get("task"), str):
                overrides = {k: v for k, v in item.items() if k != "task"}
                if item["task"] in self.index:
                    leaves += [(n, {**c, **overrides}) for n, c in self.expand(item["task"], seen)]
                else:  # inline task definition
                    leaves.append((f"{name}::{item['task']}", dict(item)))
            elif isinstance(item, dict) and isinstance(item.get("group"), str):
                sub = item["group"]
                leaves += self.expand(sub, seen) if sub in self.index else []
        return leaves


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


@dataclass(frozen=True)
class FamilyTable:
    default: str
    rules: tuple[tuple[str, str], ...]

    @classmethod
    def load(cls, path: Path) -> FamilyTable:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as err:
            raise TaskseedError(f"cannot read family table {path}: {err}; fix catalog.families") from None
        rules = tuple((r["match"], r["family"]) for r in raw.get("rules", []))
        for _, family in rules:
            if family not in ("knowledge", "reasoning"):
                raise TaskseedError(f"family table {path} uses family {family!r}; use knowledge or reasoning")
        return cls(default=raw.get("default", "knowledge"), rules=rules)

    def family_of(self, group: str, task: str) -> str:
        for pattern, family in self.rules:
            if fnmatch.fnmatchcase(group, pattern) or fnmatch.fnmatchcase(task, pattern):
                return family
        return self.default


def suite_splits(registry: Registry, suites: dict[str, list[str]]) -> dict[str, list[str]]:
    """split key -> the suite tasks that evaluate on it."""
    out: dict[str, list[str]] = defaultdict(list)
    for suite, names in (suites or {}).items():
        for name in names or []:
            try:
                leaves = registry.expand(name)
            except KeyError:
                raise TaskseedError(
                    f"eval.suites.{suite} names {name!r}, which is not an lm-eval task or group; fix the suite list"
                ) from None
            for leaf, cfg in leaves:
                for split in evaluated_splits(cfg):
                    out[split_key(cfg.get("dataset_path"), cfg.get("dataset_name"), split)].append(
                        f"{leaf} ({suite})"
                    )
    return dict(out)


def unloadable_reason(cfg: dict[str, Any]) -> str | None:
    if "class" in cfg:
        return "unloadable: a Python task class loads its own data; it cannot be redirected to the mirror"
    if cfg.get("custom_dataset"):
        return "unloadable: the task builds its dataset in Python (custom_dataset)"
    if not cfg.get("dataset_path"):
        return "unloadable: no dataset_path"
    if cfg.get("doc_to_image") or cfg.get("doc_to_audio"):
        return "unloadable: multimodal task (images/audio) is out of scope for text seeds"
    return None


def eligibility(record: dict[str, Any], policy: LicensePolicy) -> tuple[bool, str]:
    if not record.get("training_split"):
        return False, "no training split declared"
    if record.get("firewall"):
        return False, record["firewall"]
    if record.get("unloadable"):
        return False, record["unloadable"]
    if record.get("availability") == "missing":
        return False, "unavailable: not in the mirror, and the Hugging Face Hub is unreachable"
    return policy.admits(record["license"], record["license_class"])


def catalog_spec(cfg: dict[str, Any], source: DataSource) -> StageSpec:
    cat: CatalogConfig = section(cfg, "catalog")
    include = [{"path": str(p), "digest": _tree_digest(Path(p))} for p in cat.include_paths]
    config = {
        "lm_eval": metadata.version("lm_eval"),
        "include_paths": include,
        "families": file_digest(Path(cat.families)),
        "licenses": file_digest(Path(cat.licenses)),
        "variants": cat.variants,
        "suites": protected_suites(cfg["eval"]),
        "eval_only_datasets": section(cfg, "eval").eval_only_datasets,
        "data": source.identity(),
    }
    return StageSpec(STAGE, VERSION, config)


def _tree_digest(root: Path) -> str:
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".py"):
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_catalog(ctx: StageContext, cfg: dict[str, Any], source: DataSource) -> None:
    cat: CatalogConfig = section(cfg, "catalog")
    licenses = LicenseTable.load(Path(cat.licenses))
    families = FamilyTable.load(Path(cat.families))
    with ctx.timed("registry"):
        registry = Registry(cat.include_paths)
    variants = cat.variants
    for name in variants:
        if name not in registry.index:
            raise TaskseedError(
                f"catalog.variants names {name!r}, which is not an lm-eval task; fix the variant list"
            )
    protected = suite_splits(registry, protected_suites(cfg["eval"]))
    eval_only = section(cfg, "eval").eval_only_datasets
    parents = registry.parents()

    records = []
    eval_files: dict[str, set[str]] = defaultdict(set)
    with ctx.timed("records"):
        for name in registry.tasks():
            base = registry.config(name)
            for split in evaluated_splits(base):  # the registered config is what lm-eval evaluates
                found = source.locate(
                    base.get("dataset_path"), base.get("dataset_name"), split, base.get("dataset_kwargs")
                )
                if found is not None:
                    eval_files[str(found.relative_to(source.mirror))].add(name)
            variant = variants.get(name)
            task_cfg = {**base, **(variant or {})}
            records.append(
                _record(
                    name,
                    task_cfg,
                    variant,
                    registry,
                    parents,
                    families,
                    licenses,
                    source,
                    protected,
                    eval_only,
                )
            )
    for dataset in eval_only:  # evaluation sets whatever their split names
        for entry in source.manifest:
            if entry["dataset_path"] == dataset:
                eval_files[entry["file"]].add(f"eval-only:{dataset}")

    writer = ctx.writer("data", fmt="jsonl", shard_rows=100_000)
    writer.write_many(records)
    ctx.counts["data"] = writer.close()
    from taskseed.core.artifacts import write_json_atomic

    write_json_atomic(ctx.workdir / "eval_files.json", {k: sorted(v) for k, v in sorted(eval_files.items())})
    write_json_atomic(ctx.workdir / "protected_splits.json", protected)

    with_training = [r for r in records if r["training_split"]]
    clean = [r for r in with_training if not r["firewall"] and not r["unloadable"]]
    by_avail = Counter(r["availability"] for r in clean)
    mirror_datasets = {
        (r["dataset_path"], r["dataset_name"], r["training_split"])
        for r in clean
        if r["availability"] == "mirror"
    }
    ctx.metrics.update(
        {
            "tasks": len(records),
            "tasks_with_training_split": len(with_training),
            "tasks_firewalled": sum(1 for r in with_training if r["firewall"]),
            "seed_candidates": len(clean),
            "seed_candidates_mirror": by_avail.get("mirror", 0),
            "seed_candidates_hub": by_avail.get("hub", 0),
            "seed_datasets_mirror": len(mirror_datasets),
            "eval_files_mirror": len(eval_files),
        }
    )
    ctx.stats["firewall_rules"] = dict(
        Counter(r["firewall"].split("]")[0].split("[")[-1] for r in with_training if r["firewall"])
    )
    rows = [[k, v] for k, v in ctx.metrics.items()]
    ctx.summary = summary_table("catalog", ["measure", "tasks"], rows)


def _record(
    name, cfg, variant, registry, parents, families, licenses, source, protected, eval_only
) -> dict[str, Any]:
    group = registry.group_of(name)
    training = cfg.get("training_split")
    firewall = None
    if training:
        try:
            check_task(name, cfg, protected, eval_only)
        except FirewallError as err:
            firewall = str(err)
    probe_split = training or cfg.get("test_split") or cfg.get("validation_split")
    license_id = licenses.license_of(cfg.get("dataset_path"), cfg.get("dataset_name"))
    return {
        "task": name,
        "kind": registry.kind(name),
        "group": group,
        "parents": parents.get(name, []),
        "family": families.family_of(group, name),
        "output_type": cfg.get("output_type", "generate_until" if "class" not in cfg else None),
        "dataset_path": cfg.get("dataset_path"),
        "dataset_name": cfg.get("dataset_name"),
        "training_split": training,
        "validation_split": cfg.get("validation_split"),
        "test_split": cfg.get("test_split"),
        "fewshot_split": cfg.get("fewshot_split"),
        "license": license_id,
        "license_class": licenses.class_of(license_id),
        "availability": source.availability(
            cfg.get("dataset_path"), cfg.get("dataset_name"), probe_split, cfg.get("dataset_kwargs")
        ),
        "firewall": firewall,
        "unloadable": unloadable_reason(cfg),
        "variant": variant,
        "yaml_path": str(registry.index[name].yaml_path) if registry.index[name].yaml_path else None,
    }


def load_catalog(session: Session, source: DataSource, quiet: bool = True, track: bool = True) -> Artifact:
    """The catalog artifact for this config: computed once, then reused (a cache hit costs milliseconds)."""
    spec = catalog_spec(session.cfg, source)
    return session.run(spec, lambda ctx: build_catalog(ctx, session.cfg, source), quiet=quiet, track=track)


def public_view(records: list[dict[str, Any]], policy: LicensePolicy) -> list[dict[str, Any]]:
    out = []
    for record in records:
        eligible, reason = eligibility(record, policy)
        row = {k: record.get(k) for k in PUBLIC_KEYS if k not in ("eligible", "reason")}
        row.update(
            kind=record["kind"],
            parents=record["parents"],
            variant=record["variant"],
            yaml_path=record["yaml_path"],
            eligible=eligible,
            reason=reason,
        )
        out.append(row)
    return out
