"""The experiment section (experiments/NAME.yaml): the hypothesis, its arms and an optional sweep."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from taskseed.core.schema import register, require


@register("experiment", store=False)  # the experiment files are `_global_` packages, validated here
@dataclass
class ExperimentConfig:
    name: str = "adhoc"
    hypothesis: str = ""
    # arm -> Hydra overrides (`key=value`) applied on top of the experiment (`arm=NAME` selects one). An
    # experiment that trains has a `baseline` arm (the untrained model: eval.target=base) and a same-budget
    # `control` arm beside its treatments; the comparison reads every arm against both.
    arms: dict[str, list[str]] = field(default_factory=dict)
    baseline: str | None = None
    control: str | None = None
    # key -> values: a grid applied to every arm (or, without arms, the experiment's points)
    sweep: dict[str, list[Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for role in ("baseline", "control"):
            arm = getattr(self, role)
            if arm is not None:
                require(
                    arm in self.arms,
                    f"experiment.{role}",
                    arm,
                    f"name one of experiment.arms ({', '.join(self.arms) or 'none'})",
                )
        for arm in self.arms:
            require(arm.replace("_", "").replace("-", "").isalnum(), "experiment.arms", arm,
                    "arm names are letters, digits, '_' and '-' (they become run names and file names)")  # fmt: skip
        for key, values in self.sweep.items():
            require(
                isinstance(values, list) and bool(values),
                f"experiment.sweep.{key}",
                values,
                "a non-empty list of values",
            )

    @property
    def treatments(self) -> list[str]:
        return [a for a in self.arms if a not in (self.baseline, self.control)]
