"""The check contract: a small unit that gives every record it sees a verdict (DESIGN §3 `checks`).

A check is run on the records that passed the checks before it (cheap checks first, the LLM last), so the
chain is a funnel; each verdict is written into the record's `checks[name]`, and the first failure
becomes its `rejection`. Checks see whole batches, so the ones that compare records (dedup) or call a
model (verify) can work in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from taskseed.core.artifacts import Artifact


@dataclass(frozen=True)
class Verdict:
    passed: bool
    score: float = 1.0
    reason: str = (
        ""  # a short stable code, then detail after ": " (e.g. "not-fresh: jaccard 0.91 to seed ...")
    )

    def as_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "score": round(float(self.score), 4), "reason": self.reason}

    @property
    def code(self) -> str:
        return self.reason.split(":", 1)[0] if self.reason else ""


PASS = Verdict(True)


def fail(reason: str, score: float = 0.0) -> Verdict:
    return Verdict(False, score, reason)


@dataclass
class CheckContext:
    """What checks may consult besides the records: settings, inputs and a place for their reports."""

    cfg: dict[str, Any]  # the full resolved config
    workdir: Path
    seeds: dict[str, dict[str, Any]] = field(default_factory=dict)  # seed_id -> seed record
    progress: bool = True
    reports: dict[str, Any] = field(default_factory=dict)  # check name -> a report the stage writes out
    llm: Any = None  # a CheckLLM (filter/llm.py) for the checks that call a model


@dataclass
class CheckInputs:
    """What a check is built with besides its config section: the artifacts and models the stage resolved."""

    evalset: Artifact | None = None  # decontam: the evaluation set artifact
    cache: Path | None = None  # where a check keeps what it computed for reuse (paths.cache); None: nowhere
    verifier: dict[str, Any] = field(default_factory=dict)  # checks that call a model: its describe()


class Check(Protocol):
    """Built as `CheckClass(config_section, inputs)` (filter/config.py holds each section)."""

    name: str

    def settings(self) -> dict[str, Any]:
        """What changes this check's verdicts (it goes into the stage fingerprint)."""

    def run(self, records: list[dict[str, Any]], ctx: CheckContext) -> list[Verdict]:
        """One verdict per record, in order."""


def kind_of(record: dict[str, Any]) -> str:
    return record.get("kind") or ("mc" if record.get("choices") else "short")
