"""`taskseed run -m`: the arms (and sweep) of an experiment as a Hydra multirun, so Hydra's launcher plugins
scale it out with no project code: the basic launcher (in process, one arm after another),
`hydra/launcher=joblib` (local processes), `hydra/launcher=submitit_slurm` (Slurm), `hydra/launcher=ray`.

Every job composes the same tree `taskseed run` does, applies its arm, and runs the pipeline on the shared
artifact store: a stage two arms both need is computed by whichever gets its lock first and reused by the
other (core/stage.py), so parallel arms never compute shared upstream work twice.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from taskseed.core.config import apply_arm, compose, conf_dir, to_dict
from taskseed.core.errors import TaskseedError


def multirun(overrides: list[str], job: Callable[[dict[str, Any]], int]) -> int:
    """Run `job(cfg)` for every point Hydra's sweeper yields from these overrides. Without an `arm=` sweep,
    an experiment's arms are all swept."""
    import hydra
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from omegaconf import OmegaConf

    keys = {o.split("=", 1)[0].lstrip("+~") for o in overrides}
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    first = [f"{o.get_key_element()}={next(o.sweep_string_iterator())}" if o.is_sweep_override() else o.input_line
             for o in parsed if not o.get_key_element().startswith("hydra")]  # fmt: skip
    cfg = to_dict(
        compose(first)
    )  # one-line errors for bad overrides (at the first sweep point) before any job
    exp = cfg.get("experiment") or {}
    if exp.get("arms") and "arm" not in keys:
        overrides = [*overrides, "arm=" + ",".join(exp["arms"])]
    failures: list[str] = []

    def run_job(hydra_cfg) -> int:
        from hydra.core.hydra_config import HydraConfig

        task = list(HydraConfig.get().overrides.task)
        apply_arm(hydra_cfg, task)
        OmegaConf.resolve(hydra_cfg)
        resolved = to_dict(hydra_cfg)
        sweep = set((resolved.get("experiment") or {}).get("sweep") or {})
        resolved["_sweep_point"] = [o for o in task if o.split("=", 1)[0] in sweep]
        resolved["_overrides"] = task
        try:
            return job(resolved)
        except TaskseedError as err:
            print(f"error: {err}", file=sys.stderr)
            failures.append(str(err))
            raise

    argv = sys.argv
    sys.argv = ["taskseed", "--multirun", *overrides]
    try:
        hydra.main(config_path=str(conf_dir()), config_name="config", version_base="1.3")(run_job)()
    finally:
        sys.argv = argv
    return 2 if failures else 0
