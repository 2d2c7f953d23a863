"""The `taskseed` command: one subcommand per stage, Hydra overrides after it.

    taskseed catalog [--format table|json] [--all] [overrides...]
    taskseed seeds [overrides...]              e.g. seeds.tasks=[arc_easy,gsm8k] seeds.license_policy=research
    taskseed generate [overrides...]           e.g. generate.backend=openai generate.num_examples=500
    taskseed enrich [overrides...]
    taskseed filter [overrides...]
    taskseed render [overrides...]            e.g. render.include_seeds=true render.parts.distractors=0
    taskseed mix [overrides...]               e.g. mix.weights.synthetic=0.1 mix.token_budget=5000000
    taskseed train [overrides...]             e.g. train.nproc=2 train.trainer=automodel
    taskseed eval [overrides...]              e.g. eval.target=base eval.score=[commonsense] eval.variant=full
    taskseed report [overrides...]            deltas of the trained model vs the base model, with CIs
    taskseed run [overrides...]                the pipeline (pipeline.stages) under one MLflow parent run
    taskseed run -m +experiment=NAME [hydra/launcher=joblib] [arm=a,b]   the arms as a Hydra multirun
    taskseed experiment NAME [overrides...]    experiments/NAME.yaml: every arm (x sweep point), then compare
    taskseed compare NAME [overrides...]       the arms of a finished experiment side by side
    taskseed reproduce RUN_ID [overrides...]   recompute a recorded run from scratch; exit 1 if it differs
    taskseed sync [overrides...]               upload the runs a tracking server missed (tracking.journal)
    taskseed model [overrides...]              prepare the configured model copy and print its path
    taskseed config [COMMAND] [overrides...]   check COMMAND's settings (default: run) and print the resolved,
                                               typed config with every default

Bad input prints one `error: ...` line and exits with code 2. Stage commands end with `artifact: PATH`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from taskseed.core.errors import TaskseedError

log = logging.getLogger("taskseed")
# Stage commands run their stage (and, quietly, whatever it reads); the others are tools.
STAGE_COMMANDS = ("seeds", "generate", "enrich", "filter", "render", "mix", "train", "eval", "report")
COMMANDS = (
    "catalog",
    *STAGE_COMMANDS,
    "run",
    "experiment",
    "compare",
    "reproduce",
    "model",
    "sync",
    "config",
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taskseed", description="Task-seeded synthetic Q&A for continued pretraining."
    )
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument(
        "args", nargs="*", help="experiment name (for `experiment`) and Hydra overrides key=value"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table", help="catalog output format")
    parser.add_argument(
        "--all", action="store_true", help="catalog table: include tasks without a training split"
    )
    parser.add_argument(
        "-m", "--multirun", action="store_true", help="run: sweep through Hydra's launcher (experiment arms)"
    )
    return parser


_SESSIONS: list = []  # this command's sessions, to report runs a tracking server missed


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_intermixed_args(argv)
    try:
        code = _dispatch(args)
        missed = sum(s.tracker.missed for s in _SESSIONS)
        if missed:
            journal = _SESSIONS[-1].tracker.journal
            print(
                f"tracking: {missed} stage run(s) kept locally in {journal}; `taskseed sync` uploads them",
                file=sys.stderr,
            )
        return code
    except TaskseedError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; re-run the same command to resume", file=sys.stderr)
        return 130


def _environment(cfg: dict[str, Any], overrides: list[str] | None = None):
    """Logging, data source, caches and the session for a resolved config."""
    from taskseed.core.display import setup_logging
    from taskseed.core.stage import Session, ensure_writable
    from taskseed.core.tracking import Tracker
    from taskseed.sources.data import DataSource, set_offline_env

    setup_logging(cfg.get("log_level", "INFO"))
    source = DataSource.from_config(
        cfg["data"], Path(cfg["paths"]["root"])
    )  # a bad mirror path writes nothing
    ensure_writable(Path(cfg["paths"]["outputs"]))
    set_offline_env(source)
    # datasets reads this when first imported; keep its Arrow cache with the rest of our outputs.
    os.environ.setdefault("HF_DATASETS_CACHE", str(Path(cfg["paths"]["cache"]) / "hf_datasets"))
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")  # our own bars say more
    session = Session(cfg, Tracker(cfg["tracking"]))
    session.overrides = list(overrides or [])
    _SESSIONS.append(session)
    return source, session


def _dispatch(args: argparse.Namespace) -> int:
    from taskseed.core.config import compose, to_dict

    if args.command == "experiment":
        return _experiment(args.args)
    if args.command == "compare":
        return _compare(args.args)
    if args.command == "run" and args.multirun:
        from taskseed.experiments.multirun import multirun

        return multirun(args.args, _run_job)
    if args.command == "reproduce":
        return _reproduce(args.args)
    if args.command == "config":
        return _config(args.args)
    cfg = to_dict(compose(args.args))
    _check(cfg, args.command)  # every setting the command uses, before anything is written
    source, session = _environment(cfg, args.args)

    if args.command == "catalog":
        return _catalog(session, source, args)
    if args.command in STAGE_COMMANDS:
        from taskseed.pipeline import run_until

        artifact = run_until(session, source, args.command)
        print(f"artifact: {artifact.path}")
        return 0
    if args.command == "run":
        from taskseed.pipeline import run_configured

        artifacts = run_configured(session, source)
        print(f"artifact: {list(artifacts.values())[-1].path}")
        return 0
    if args.command == "sync":
        from taskseed.core.display import print_summary
        from taskseed.core.sync import sync

        print_summary(sync(cfg["tracking"]))
        return 0
    if args.command == "model":
        from taskseed.core.models import ensure_model

        print(f"model: {ensure_model(cfg['model'], Path(cfg['paths']['cache']))}")
        return 0
    raise TaskseedError(f"unknown command {args.command}")


def _stages_of(cfg: dict[str, Any], command: str) -> list[str]:
    return list(cfg["pipeline"]["stages"]) if command == "run" else [command]


def _check(cfg: dict[str, Any], command: str) -> None:
    from taskseed.core.schema import section
    from taskseed.pipeline import check_config

    if command in ("catalog", *STAGE_COMMANDS, "run"):
        check_config(cfg, _stages_of(cfg, command))
        if command == "catalog":
            from taskseed.sources.seeds import license_policy

            license_policy(cfg)  # the table shows eligibility under it
    else:
        for group in ("paths", "tracking"):
            section(cfg, group)


def _config(argv: list[str]) -> int:
    """`taskseed config [COMMAND] [overrides...]`: the command's settings checked, then every section printed
    as its schema holds it (defaults included), as YAML."""
    import dataclasses

    from omegaconf import OmegaConf

    from taskseed.core.config import compose, to_dict
    from taskseed.core.schema import SCHEMAS, section

    command = argv[0] if argv and "=" not in argv[0] else "run"
    if command not in ("catalog", *STAGE_COMMANDS, "run"):
        raise TaskseedError(
            f"usage: taskseed config [COMMAND] [overrides...]; COMMAND is catalog, a stage or run, not {command!r}"
        )
    overrides = argv[1:] if argv and "=" not in argv[0] else argv
    cfg = to_dict(compose(overrides))
    _check(cfg, command)
    # the model group is shown as written: its schema's fields differ by model.source
    typed = {
        k: dataclasses.asdict(section(cfg, k)) if k in SCHEMAS and k != "model" else v for k, v in cfg.items()
    }
    print(
        f"# taskseed {command} {' '.join(overrides)}".rstrip()
        + ": the resolved config, every default included"
    )
    print(OmegaConf.to_yaml(typed), end="")
    return 0


def _catalog(session, source, args) -> int:
    from taskseed.core.display import print_summary, stdout, summary_table
    from taskseed.sources.catalog import load_catalog, public_view
    from taskseed.sources.seeds import license_policy

    policy = license_policy(session.cfg)
    artifact = load_catalog(session, source, quiet=True)
    view = public_view(artifact.read_records(), policy)
    if args.format == "json":
        json.dump(view, sys.stdout)
        sys.stdout.write("\n")
        print(f"artifact: {artifact.path}", file=sys.stderr)
        return 0
    shown = view if args.all else [r for r in view if r["training_split"]]
    rows = [
        [r["task"], r["group"], r["family"], r["output_type"], f"{r['dataset_path']}/{r['dataset_name'] or 'default'}",
         r["training_split"] or "", r["license"], r["availability"], "yes" if r["eligible"] else "no", r["reason"]]
        for r in sorted(shown, key=lambda r: (not r["eligible"], r["availability"] != "mirror", r["task"]))
    ]  # fmt: skip
    print_summary(summary_table("lm-eval tasks" + ("" if args.all else " with a training split"),
                                ["task", "group", "family", "output", "dataset", "train split", "license", "availability", "eligible", "reason"], rows))  # fmt: skip
    eligible = [r for r in view if r["eligible"]]
    counts = [
        ["tasks in the registry", len(view)],
        ["declare a training split", sum(1 for r in view if r["training_split"])],
        ["eligible (policy " + policy.name + ")", len(eligible)],
        ["eligible, data in the mirror", sum(1 for r in eligible if r["availability"] == "mirror")],
        [
            "eligible seed datasets in the mirror",
            len(
                {
                    (r["dataset_path"], r["dataset_name"], r["training_split"])
                    for r in eligible
                    if r["availability"] == "mirror"
                }
            ),
        ],
    ]
    print_summary(summary_table("catalog summary", ["", "count"], counts))
    stdout.print(f"artifact: {artifact.path}", soft_wrap=True, highlight=False)
    return 0


def _experiment_name(argv: list[str], command: str) -> tuple[str, list[str]]:
    from taskseed.core.config import conf_dir

    if not argv or "=" in argv[0]:
        raise TaskseedError(f"usage: taskseed {command} NAME [overrides...]; NAME is a file in experiments/")
    name = argv[0]
    if not (conf_dir() / "experiment" / f"{name}.yaml").is_file():
        available = sorted(p.stem for p in (conf_dir() / "experiment").glob("*.yaml"))
        raise TaskseedError(f"unknown experiment {name!r}; available: {', '.join(available)}")
    return name, argv[1:]


def _experiment(argv: list[str]) -> int:
    from taskseed.pipeline import check_config, experiment_points, run_configured

    name, overrides = _experiment_name(argv, "experiment")
    points = experiment_points(name, overrides)
    for _, _, cfg in points:  # every arm's settings, before the first arm computes anything
        check_config(cfg, list(cfg["pipeline"]["stages"]))
    last = None
    for point, full, cfg in points:
        source, session = _environment(cfg, full)
        log.info("experiment %s: arm %s %s", name, cfg.get("arm") or "-", " ".join(point))
        last = list(run_configured(session, source, point).values())[-1]
    exp = points[0][2]["experiment"]
    if exp.get("baseline") and exp.get("control"):
        return _compare([name, *[o for o in overrides if not o.startswith("arm=")]])
    print(f"artifact: {last.path}")
    return 0


def _compare(argv: list[str]) -> int:
    from taskseed.core.config import compose, to_dict
    from taskseed.core.schema import section
    from taskseed.experiments.compare import run_compare

    name, overrides = _experiment_name(argv, "compare")
    cfg = to_dict(compose([f"+experiment={name}", *overrides]))
    _, session = _environment(cfg)
    session.track_cache_hits = True
    with session.tracker.parent(f"{name}: compare", params=session.params,
                                tags={"experiment": name, "taskseed.kind": "compare"}):  # fmt: skip
        artifact = run_compare(session, name)
    tracking = section(cfg, "tracking")
    if tracking.enabled:
        print(f"mlflow: experiment {tracking.experiment!r} at {tracking.uri}; browse it with `make ui`")
    print(f"artifact: {artifact.path}")
    return 0


def _reproduce(argv: list[str]) -> int:
    from taskseed.core.config import compose, to_dict
    from taskseed.experiments.reproduce import reproduce
    from taskseed.pipeline import check_config, run_configured

    if not argv or "=" in argv[0]:
        raise TaskseedError(
            "usage: taskseed reproduce RUN_ID [overrides...]; RUN_ID is a pipeline's MLflow parent run"
        )
    cfg = to_dict(compose(argv[1:]))
    _environment(cfg, argv[1:])

    def rerun(new_cfg: dict[str, Any], overrides: list[str]):
        check_config(new_cfg, list(new_cfg["pipeline"]["stages"]))
        source, session = _environment(new_cfg, overrides)
        return run_configured(session, source, run_name=f"reproduce {argv[0]}")

    folder, same = reproduce(cfg, argv[0], rerun)
    print(f"artifact: {folder}")
    return 0 if same else 1


def _run_job(cfg: dict[str, Any]) -> int:
    """One Hydra multirun job: an arm's pipeline, as `taskseed run` would run it."""
    from taskseed.pipeline import check_config, run_configured

    point, overrides = cfg.pop("_sweep_point", []), cfg.pop("_overrides", [])
    check_config(cfg, list(cfg["pipeline"]["stages"]))
    source, session = _environment(cfg, overrides)
    run_configured(session, source, point)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
