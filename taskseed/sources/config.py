"""The data, catalog and seeds sections: every key, its default and what it means (conf/ only overrides)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskseed.core.schema import register, require


@register("data")
@dataclass
class DataConfig:
    # Offline mirror of lm-eval datasets (dataset_path/dataset_name/split.jsonl). auto: ../shared/datasets
    # beside the project when it exists; null: read the Hugging Face Hub only; a relative path is taken from
    # the project root.
    mirror: str | None = "auto"
    # May datasets the mirror lacks be read from the Hub? auto: yes when huggingface.co answers; true; false.
    hub: Any = "auto"

    def __post_init__(self) -> None:
        require(self.hub in ("auto", True, False), "data.hub", self.hub, "use auto, true or false")


def _variants() -> dict[str, dict[str, Any]]:
    return {
        # lm-eval's winogrande reads winogrande_xl; the mirror holds the winogrande_l training split.
        "winogrande": {"dataset_name": "winogrande_l"},
        # lm-eval's mbpp declares only its test split; MBPP's published train split is disjoint from it.
        "mbpp": {"training_split": "train"},
    }


@register("catalog")
@dataclass
class CatalogConfig:
    # Curated tables (data, not code): families per task group, licenses per dataset.
    families: str = "${paths.root}/conf/tables/families.yaml"
    licenses: str = "${paths.root}/conf/tables/licenses.yaml"
    # lm-eval task folders beyond its own: eval/suites (taskseed's suites as lm-eval groups) and your own.
    include_paths: list[str] = field(default_factory=lambda: ["${paths.root}/eval/suites"])
    # Variants: per-task overrides of the registered lm-eval config, declaring what taskseed seeds from. They
    # go through the split firewall like the registered config and are recorded in the catalog.
    variants: dict[str, dict[str, Any]] = field(default_factory=_variants)

    def __post_init__(self) -> None:
        for key in ("families", "licenses"):
            path = getattr(self, key)
            require(Path(path).is_file(), f"catalog.{key}", path, "name an existing YAML table")
        for path in self.include_paths:
            require(Path(path).is_dir(), "catalog.include_paths", path, "list existing lm-eval task folders")


@dataclass
class RowFirewall:
    # Evaluation rows (or questions) with fewer words are too generic to count as a match.
    min_words: int = 5

    def __post_init__(self) -> None:
        require(self.min_words >= 1, "seeds.row_firewall.min_words", self.min_words, "must be >= 1")


@register("seeds")
@dataclass
class SeedsConfig:
    # Which tasks to seed: "all" (every eligible task whose data is available) or a list of task names. A list
    # entry may name the split, "task:split"; it must be the task's declared training split.
    tasks: Any = "all"
    # License policy: commercial | research | permissive, or an explicit list of license ids.
    license_policy: Any = "commercial"
    allow_unknown_license: bool = False
    # With tasks=all, seed each dataset split once, through the task with the shortest name (arc_challenge,
    # not arc_challenge_chat; gsm8k, not gsm8k_cot_zeroshot).
    one_task_per_dataset: bool = True
    max_rows_per_task: int | None = None  # cap rows per task (null: all); the first rows in split order
    row_firewall: RowFirewall = field(default_factory=RowFirewall)
    shard_rows: int = 50_000

    def __post_init__(self) -> None:
        tasks = self.tasks
        if isinstance(tasks, str) and tasks != "all":
            tasks = [tasks]  # one task name
        if tasks != "all":
            require(isinstance(tasks, list), "seeds.tasks", tasks, "use all or a list of task names")
            require(bool(tasks), "seeds.tasks", tasks,
                    "the list is empty: name at least one task, e.g. seeds.tasks=[arc_easy], or use seeds.tasks=all")  # fmt: skip
            for name in tasks:
                require(isinstance(name, str) and bool(name.strip()) and name.count(":") <= 1, "seeds.tasks", name,
                        "each entry is a task name or task:split")  # fmt: skip
            require(len(set(tasks)) == len(tasks), "seeds.tasks", tasks, "name each task once")
        self.tasks = tasks
        policy = self.license_policy
        require(isinstance(policy, str) or (isinstance(policy, list) and bool(policy)), "seeds.license_policy", policy,
                "use a policy name (commercial, research, permissive) or a non-empty list of license ids")  # fmt: skip
        if self.max_rows_per_task is not None:
            require(self.max_rows_per_task >= 1, "seeds.max_rows_per_task", self.max_rows_per_task,
                    "must be >= 1 or null")  # fmt: skip
        require(self.shard_rows >= 1, "seeds.shard_rows", self.shard_rows, "must be >= 1")

    @property
    def names(self) -> list[str]:
        """The requested task names without their `:split` (empty for `all`)."""
        return [] if self.tasks == "all" else [t.partition(":")[0] for t in self.tasks]
