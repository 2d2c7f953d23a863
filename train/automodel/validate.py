"""Check a rendered recipe with NeMo AutoModel's own loader, in AutoModel's environment, without a GPU.

    <automodel-python> train/automodel/validate.py recipe.yaml [--build-datasets]

1. `parse_args_and_load_config`: AutoModel's loader; every `_target_` and `*_fn` must import.
2. `RecipeConfig`: its typed sections (step scheduler, optimizer, LR scheduler, loss, checkpoint, MLflow,
   dataloaders, the Megatron dataset's keys) and `parse_distributed_section`; unknown keys are errors.
3. With --build-datasets: the tokenizer and the Megatron training dataset on CPU (a one-process gloo group),
   and one batch from the dataloader.
Prints one JSON report; exit code 0 when every step passed.
"""

from __future__ import annotations

import json
import sys
import tempfile


def main(argv: list[str]) -> int:
    path, build = argv[0], "--build-datasets" in argv
    report: dict = {"recipe": path, "passed": [], "failed": []}

    def step(name, fn):
        try:
            detail = fn()
            report["passed"].append({name: detail} if detail else name)
            return True
        except Exception as err:  # noqa: BLE001 - every failure is reported, none raised
            report["failed"].append({name: f"{type(err).__name__}: {err}"})
            return False

    from nemo_automodel.components.config._arg_parser import parse_args_and_load_config

    holder = {}

    def load():
        holder["cfg"] = parse_args_and_load_config(argv=["--config", path])

    if step("load", load):
        from nemo_automodel.recipes._dist_utils import _distributed_cfg_to_dict, parse_distributed_section
        from nemo_automodel.recipes._typed_config import RecipeConfig

        cfg = holder["cfg"]
        typed = RecipeConfig(cfg)
        for section in (
            "step_scheduler",
            "lr_scheduler",
            "optimizer",
            "loss_fn",
            "checkpoint",
            "mlflow",
            "dataloader",
        ):
            step(f"typed:{section}", lambda s=section: type(getattr(typed, s)).__name__)
        step(
            "distributed",
            lambda: (
                parse_distributed_section(_distributed_cfg_to_dict(cfg))["strategy_config"].__class__.__name__
            ),
        )

        def recipe_name():
            from nemo_automodel.cli.utils import resolve_recipe_name

            return resolve_recipe_name(cfg.get("recipe"))

        step("recipe", recipe_name)
        if build and not report["failed"]:

            def dataset():
                import torch
                import torch.distributed as dist

                if not dist.is_initialized():
                    store = tempfile.NamedTemporaryFile(delete=False)
                    dist.init_process_group("gloo", init_method=f"file://{store.name}", rank=0, world_size=1)
                tokenizer = cfg.dataset.tokenizer.instantiate()
                loader = typed.dataloader.build(dp_rank=0, dp_world_size=1, tokenizer=tokenizer)
                batch = next(iter(loader))
                return {k: list(v.shape) for k, v in batch.items() if isinstance(v, torch.Tensor)}

            step("dataset", dataset)
    print(json.dumps(report))
    return 0 if not report["failed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
