"""The CPU reference trainer: one torchrun worker (`python -m torch.distributed.run ... -m taskseed.training.cpu
PLAN.json`). Plain PyTorch on the Hugging Face checkpoint, data from megatron-core's blend, DDP over gloo.

Sample order: optimizer step s consumes global samples [s*G, (s+1)*G) of the blend (G = global batch);
micro-batch m of rank r reads samples s*G + (m*world + r)*mbs ... + mbs - 1, so ranks read disjoint samples
and one process reads the same samples in the same order as several. Every step appends one line to
`train_log.jsonl` (rank 0) and the indices each rank read to `samples/rank{r}.jsonl`; a checkpoint every
`save_every` steps holds what a resume needs, and a resume truncates both logs back to its step, so the
record shows each sample trained on exactly once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F

from taskseed.mix.blend import Blend, BlendTokenizer, build
from taskseed.training import checkpoint
from taskseed.training.process import die_with_parent

LOG = "train_log.jsonl"


def cosine_with_warmup(total: int, warmup: int, min_ratio: float):
    def factor(step: int) -> float:  # step counts optimizer steps taken so far
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def param_groups(model, weight_decay: float) -> list[dict[str, Any]]:
    """No weight decay on biases, norms and embeddings (1-d tensors and embedding tables)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if param.ndim < 2 or "embed" in name else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def truncate_log(path: Path, step: int) -> None:
    """Keep only lines of steps <= `step` (what the checkpoint being resumed from had committed)."""
    if not path.is_file():
        return
    kept = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept))
    os.replace(tmp, path)


def append(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a") as fh:
        fh.write(json.dumps(record) + "\n")
        fh.flush()


def masked_loss(logits: torch.Tensor, labels: torch.Tensor, loss_mask: torch.Tensor) -> torch.Tensor:
    losses = F.cross_entropy(
        logits.float().reshape(-1, logits.size(-1)), labels.reshape(-1), reduction="none"
    )
    mask = loss_mask.reshape(-1).float()
    return (losses * mask).sum() / mask.sum().clamp(min=1)


def main(plan_path: str) -> int:
    plan = json.loads(Path(plan_path).read_text())
    out = Path(plan["out"])
    train = plan["train"]
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    die_with_parent()  # torchrun killed (the stage was): stop at once, never race a resumed run
    dist.init_process_group("gloo")
    torch.set_num_threads(plan["threads"])
    torch.manual_seed(train["seed"] + rank)
    parent = os.getppid()

    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(plan["model"], dtype=torch.float32)
    model.config.use_cache = False
    model.train()
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else None
    net = ddp or model
    opt_cfg = train["optim"]
    optimizer = torch.optim.AdamW(param_groups(model, opt_cfg["weight_decay"]), lr=opt_cfg["lr"],
                                  betas=(opt_cfg["beta1"], opt_cfg["beta2"]), eps=opt_cfg["eps"])  # fmt: skip
    total = plan["steps"]
    schedule = cosine_with_warmup(total, opt_cfg["warmup_steps"], opt_cfg["min_lr_ratio"])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)

    b = plan["blend"]
    dataset = build(Blend(tuple(b["prefixes"]), tuple(b["weights"]), b["seq_length"], b["num_samples"], b["seed"],
                          BlendTokenizer(**b["tokenizer"])))  # fmt: skip
    ckpt_root, sample_log = out / "checkpoints", out / "samples" / f"rank{rank}.jsonl"
    sample_log.parent.mkdir(parents=True, exist_ok=True)
    start = 0
    resumed = checkpoint.latest(ckpt_root)
    if resumed is not None:
        state = checkpoint.load(resumed, rank, model, optimizer, scheduler)
        start = state["step"]
        assert state["world_size"] == world, "resume with the same number of processes"
        if rank == 0:
            print(
                f"resuming from {resumed.name}: step {start}, data position {state['samples_consumed']}",
                flush=True,
            )
    if rank == 0:
        truncate_log(out / LOG, start)
    truncate_log(sample_log, start)
    dist.barrier()

    G, mbs, accum = train["global_batch_size"], train["micro_batch_size"], plan["grad_accum"]
    seq = b["seq_length"]
    autocast = plan["dtype"] == "bfloat16"
    for step in range(start, total):
        if os.getppid() != parent:  # the launcher died (killed): stop rather than run on as an orphan
            return 1
        t0 = time.perf_counter()
        indices, micro_losses = [], []
        for m in range(accum):
            first = step * G + (m * world + rank) * mbs
            ids = list(range(first, first + mbs))
            indices += ids
            samples = [dataset[i] for i in ids]
            tokens = torch.stack([s["tokens"] for s in samples])
            labels = torch.stack([s["labels"] for s in samples])
            loss_mask = torch.stack([s["loss_mask"] for s in samples])
            sync = ddp.no_sync() if ddp is not None and m < accum - 1 else contextlib.nullcontext()
            with sync, torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                logits = net(input_ids=tokens).logits
                loss = masked_loss(logits, labels, loss_mask)
            (loss / accum).backward()
            micro_losses.append(loss.detach())
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), opt_cfg["grad_clip"] or float("inf"))
        lr = scheduler.get_last_lr()[0]
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        step_loss = torch.stack(micro_losses).mean()
        if world > 1:
            dist.all_reduce(step_loss)
            step_loss /= world
        seconds = time.perf_counter() - t0
        append(sample_log, {"step": step + 1, "indices": indices})
        if rank == 0:
            append(out / LOG, {
                "step": step + 1, "loss": round(float(step_loss), 6), "lr": lr, "grad_norm": round(float(grad_norm), 6),
                "tokens": (step + 1) * G * seq, "samples_consumed": (step + 1) * G, "seconds": round(seconds, 4),
                "tokens_per_s": round(G * seq / seconds, 1), "peak_rss_mb": round(_peak_rss_mb(), 1),
            })  # fmt: skip
            if (step + 1) % train["log_every"] == 0 or step + 1 == total:
                print(f"step {step + 1}/{total} loss {float(step_loss):.4f} lr {lr:.2e} "
                      f"{G * seq / seconds:,.0f} tok/s", flush=True)  # fmt: skip
        if (step + 1) % train["save_every"] == 0 or step + 1 == total:
            _save(ckpt_root, step + 1, rank, model, optimizer, scheduler, G, world, train["keep_checkpoints"])
    if rank == 0:
        model.save_pretrained(out / "model.partial", safe_serialization=True)
    dist.barrier()
    dist.destroy_process_group()
    return 0


def _save(
    root: Path, step: int, rank: int, model, optimizer, scheduler, G: int, world: int, keep: int
) -> None:
    checkpoint.write_rank_state(root, step, rank)
    if rank == 0:
        state = {"step": step, "samples_consumed": step * G, "world_size": world}
        checkpoint.write_shared_state(root, step, model, optimizer, scheduler, state)
    dist.barrier()  # every rank's RNG is on disk before the checkpoint becomes visible
    if rank == 0:
        checkpoint.commit(root, step, keep)
    dist.barrier()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
