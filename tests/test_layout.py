"""The package tree follows the flow: a phase imports only itself and the phases before it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "taskseed"
# DESIGN §1 in package form; `cli` and `pipeline` sit on top and may import every phase.
PHASES = ["core", "sources", "llm", "synth", "filter", "mix", "training", "evaluation", "experiments"]


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n.split(".")[1] for n in names if n.startswith("taskseed.") and n.count(".") >= 1}


def test_no_phase_imports_a_later_phase():
    offenders = []
    for index, phase in enumerate(PHASES):
        for path in (PACKAGE / phase).rglob("*.py") if (PACKAGE / phase).is_dir() else []:
            later = {p for p in _imports(path) if p in PHASES and PHASES.index(p) > index}
            later |= {p for p in _imports(path) if p in ("cli", "pipeline")}
            offenders += [f"{path.relative_to(PACKAGE)} imports taskseed.{p}" for p in sorted(later)]
    assert not offenders, offenders


def test_every_module_lives_in_a_phase_folder():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert top == ["__init__.py", "__main__.py", "cli.py", "pipeline.py"]
    for phase in PHASES:
        init = PACKAGE / phase / "__init__.py"
        if init.parent.is_dir():
            assert init.is_file() and ast.get_docstring(ast.parse(init.read_text())), f"{phase}/__init__.py"
