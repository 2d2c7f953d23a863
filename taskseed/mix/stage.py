"""`taskseed mix`: rendered documents + a replay corpus → a tokenized Megatron blend at a fixed token budget.

Per source with a positive weight (`synthetic`, `seeds`, `replay`): one Megatron prefix `data/<source>`
(.bin/.idx, the model's tokenizer, EOD after every document). `mixture.json` is the mixture manifest
(DESIGN §3): weights, documents and tokens per source, per family and per task, the tokenizer, the blend's
shape (seq_length, samples, seed) and the Megatron data-path list `[w1, prefix1, w2, prefix2, ...]`.
The blend is built once here with megatron-core to check it: its source shares are recorded, and a source
too small for its share of the budget is an error unless mix.allow_repeat=true.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from taskseed.core.artifacts import Artifact, write_json_atomic
from taskseed.core.display import summary_table
from taskseed.core.errors import TaskseedError
from taskseed.core.models import ensure_model, trained_model_config
from taskseed.core.schema import section
from taskseed.core.stage import Session, StageContext, StageSpec
from taskseed.mix import blend, replay
from taskseed.mix.config import MixConfig
from taskseed.mix.plots import token_mix
from taskseed.mix.tokenize import PrefixStats, Tokenizer, read_prefix, write_prefix
from taskseed.sources.licenses import LicenseTable
from taskseed.sources.seeds import license_policy

log = logging.getLogger(__name__)

STAGE = "mix"
VERSION = "1"
MANIFEST_FILE = "mixture.json"
CHECK_SAMPLES = 10_000  # the blend's source shares are reported over its first this-many samples


def check(cfg: dict[str, Any]) -> None:
    """Settings that can be checked before any stage runs."""
    mc: MixConfig = section(cfg, "mix")
    render = section(cfg, "render")
    if mc.weights.get("seeds", 0) > 0 and not render.include_seeds:
        raise TaskseedError(
            f"mix.weights.seeds={mc.weights['seeds']} names the rendered seeds, which are not rendered; "
            "set render.include_seeds=true or mix.weights.seeds=0"
        )
    if mc.weights.get("replay", 0) > 0:
        replay.describe(mc.replay, Path(cfg["paths"]["root"]))  # the corpus exists and is readable


def mix_spec(cfg: dict[str, Any], rendered: Artifact, tokenizer: Tokenizer) -> StageSpec:
    mc: MixConfig = section(cfg, "mix")
    config = {k: v for k, v in dataclasses.asdict(mc).items() if k not in ("batch_size", "threads", "replay")}
    config["weights"] = mc.shares()
    config["tokenizer"] = {"digest": tokenizer.digest, "eod": tokenizer.eod}
    if mc.weights.get("replay", 0) > 0:
        config["replay"] = replay.describe(mc.replay, Path(cfg["paths"]["root"]))
        config["license_policy"] = license_policy(cfg).describe()
    return StageSpec(STAGE, VERSION, config, inputs={"render": rendered})


def run_mix(session: Session, upstream: dict[str, Artifact]) -> Artifact:
    cfg = session.cfg
    check(cfg)
    mc: MixConfig = section(cfg, "mix")
    model_dir = ensure_model(trained_model_config(cfg), Path(cfg["paths"]["cache"]))
    tokenizer = Tokenizer.from_model(model_dir, mc.eod)
    rendered = upstream["render"]
    spec = mix_spec(cfg, rendered, tokenizer)
    return session.run(spec, lambda ctx: build_mix(ctx, rendered, tokenizer))


def build_mix(ctx: StageContext, rendered: Artifact, tokenizer: Tokenizer) -> None:
    cfg = ctx.cfg
    mc: MixConfig = section(cfg, "mix")
    shares = mc.shares()
    stats: dict[str, PrefixStats] = {}
    licenses: dict[str, dict[str, Any]] = {}
    for name in shares:
        prefix = ctx.workdir / "data" / name
        with ctx.timed(f"tokenize.{name}"):
            if name == "replay":
                stats[name], licenses[name] = _replay_prefix(cfg, mc, prefix, tokenizer, ctx.progress)
            else:
                docs = (d for d in rendered.iter_records() if d["source"] == name)
                stats[name] = write_prefix(docs, prefix, tokenizer, mc.batch_size, mc.threads,
                                           ("task", "family", "license"), ctx.progress, name)  # fmt: skip
                licenses[name] = {"kept": stats[name].by["license"], "dropped": {}}
        if stats[name].documents == 0:
            raise TaskseedError(
                f"mix source {name!r} has no documents (weight {mc.weights[name]}); "
                + (
                    "render.include_seeds=true renders them"
                    if name == "seeds"
                    else "check the render artifact"
                )
                + f", or set mix.weights.{name}=0"
            )

    prefixes = {name: _prefix_of(mc, name) for name in shares}
    plan = blend.Blend(tuple(blend.absolute(ctx.workdir, p) for p in prefixes.values()), tuple(shares.values()), mc.seq_length,
                       mc.token_budget // mc.seq_length, mc.seed, tokenizer.for_blend())  # fmt: skip
    epochs = _check_budget(mc, plan, stats)
    with ctx.timed("blend_check"):
        dataset = blend.build(plan)
        observed = blend.shares_of(dataset, min(CHECK_SAMPLES, plan.num_samples), list(shares))
        observed_all = blend.shares_of(dataset, plan.num_samples, list(shares))

    final = ctx.workdir.parent / ctx.fingerprint
    manifest = mixture_manifest(
        mc, plan, prefixes, stats, licenses, epochs, observed, observed_all, tokenizer, final
    )
    write_json_atomic(ctx.workdir / MANIFEST_FILE, manifest)
    (ctx.workdir / "DATACARD.md").write_text(datacard(manifest))
    token_mix(manifest, ctx.workdir / "mix.png")
    ctx.tracked_files += [MANIFEST_FILE, "DATACARD.md", "mix.png"]
    ctx.counts.update({f"documents.{n}": s.documents for n, s in stats.items()})
    ctx.stats.update({"sources": manifest["sources"], "num_samples": plan.num_samples})
    for name, source in manifest["sources"].items():
        ctx.metrics[f"mix.tokens.{name}"] = source["tokens"]
        ctx.metrics[f"mix.tokens_drawn.{name}"] = source["tokens_drawn"]
        ctx.metrics[f"mix.share.{name}"] = source["share"]
        ctx.metrics[f"mix.observed_share.{name}"] = source["observed_share_first_10k"]
        for family, tokens in source["tokens_drawn_by_family"].items():
            ctx.metrics[f"mix.tokens_drawn.{name}.{family}"] = tokens
    ctx.summary = _summary(manifest)


def _replay_prefix(cfg, mc: MixConfig, prefix: Path, tokenizer: Tokenizer, show: bool):
    root = Path(cfg["paths"]["root"])
    if mc.replay.kind == "prefix":
        data = read_prefix(mc.replay.prefix)
        stats = PrefixStats(documents=len(data.document_indices) - 1, tokens=int(data.sequence_lengths.sum()))
        lic = mc.replay.license or "unknown"
        licenses = replay.LicenseFilter(
            license_policy(cfg), LicenseTable.load(Path(cfg["catalog"]["licenses"]))
        )
        if not licenses.admits(lic):
            raise TaskseedError(
                f"mix.replay.license={lic!r} is not admitted by the license policy ({license_policy(cfg).describe()}); "
                "set the prefix's license or change seeds.license_policy"
            )
        stats.by["license"][lic] = stats.tokens
        return stats, {"kept": {lic: stats.documents}, "dropped": {}}
    licenses = replay.LicenseFilter(license_policy(cfg), LicenseTable.load(Path(cfg["catalog"]["licenses"])))
    docs = replay.documents(mc.replay, root, licenses)
    stats = write_prefix(
        docs, prefix, tokenizer, mc.batch_size, mc.threads, ("source", "license"), show, "replay"
    )
    return stats, {"kept": dict(licenses.kept), "dropped": dict(licenses.dropped)}


def _prefix_of(mc: MixConfig, name: str) -> str:
    """A source's prefix as the manifest records it: inside the artifact (relative) or an external one."""
    if name == "replay" and mc.replay.kind == "prefix":
        return str(Path(mc.replay.prefix).resolve())
    return f"data/{name}"


def _check_budget(mc: MixConfig, plan: blend.Blend, stats: dict[str, PrefixStats]) -> dict[str, float]:
    """Epochs each source needs to fill its share; more than one is an error unless repeats are allowed."""
    epochs = {}
    for name, wanted in zip(stats, plan.samples_per_source(), strict=True):
        available = blend.samples_per_epoch(stats[name].tokens, mc.seq_length)
        epochs[name] = wanted / available if available else float("inf")
        if epochs[name] > 1 and not mc.allow_repeat:
            raise TaskseedError(
                f"mix.token_budget={mc.token_budget:,} needs {wanted * mc.seq_length:,} tokens of {name!r} "
                f"(share {plan.shares[list(stats).index(name)]:.2f}) but it has {stats[name].tokens:,}; lower the "
                f"budget or mix.weights.{name}, add data, or set mix.allow_repeat=true"
            )
    return epochs


def mixture_manifest(
    mc, plan, prefixes, stats, licenses, epochs, observed, observed_all, tokenizer, final: Path
):
    """The mixture manifest (DESIGN §3); `prefixes` are relative to the artifact, or absolute (external)."""
    sources = {}
    for name, share, wanted in zip(stats, plan.shares, plan.samples_per_source(), strict=True):
        s = stats[name]
        drawn = round(observed_all[name] * plan.num_samples) * mc.seq_length
        by_family = dict(s.by["family"]) if "family" in s.by else {"general": s.tokens}
        sources[name] = {
            "weight": mc.weights[name], "share": share, "prefix": prefixes[name],
            "documents": s.documents, "tokens": s.tokens, "skipped_empty": s.skipped_empty,
            "epochs": round(epochs[name], 4), "samples_requested": wanted,
            "tokens_drawn": drawn, "observed_share_first_10k": round(observed[name], 4),
            "observed_share_all": round(observed_all[name], 4),
            "tokens_by_task": dict(s.by.get("task", {})), "tokens_by_family": by_family,
            "tokens_by_source": dict(s.by.get("source", {})),
            "tokens_drawn_by_family": _scaled(by_family, s.tokens, drawn),
            "tokens_drawn_by_task": _scaled(s.by.get("task", {}), s.tokens, drawn),
            "licenses": licenses[name],
        }  # fmt: skip
    data_paths: list[Any] = []
    for source in sources.values():
        data_paths += [round(source["share"], 6), blend.absolute(final, source["prefix"])]
    return {
        "tokenizer": tokenizer.describe(),
        "seq_length": mc.seq_length, "token_budget": mc.token_budget, "num_samples": plan.num_samples,
        "seed": mc.seed, "allow_repeat": mc.allow_repeat, "sources": sources,
        "data_paths": data_paths,  # Megatron's --data-path / NeMo's `paths`: [w1, prefix1, w2, prefix2, ...]
    }  # fmt: skip


def _scaled(tokens_by: dict[str, int], total: int, drawn: int) -> dict[str, int]:
    """Expected tokens drawn per category: the source's draw split in proportion to its token counts."""
    return {k: round(drawn * v / total) for k, v in tokens_by.items()} if total else {}


def blend_of(mix: Artifact) -> blend.Blend:
    """The blend a mix artifact describes, with absolute prefixes (what trainers build)."""
    import json

    manifest = json.loads((mix.path / MANIFEST_FILE).read_text())
    sources = manifest["sources"]
    tok = manifest["tokenizer"]
    return blend.Blend(
        tuple(blend.absolute(mix.path, s["prefix"]) for s in sources.values()),
        tuple(s["share"] for s in sources.values()),
        manifest["seq_length"], manifest["num_samples"], manifest["seed"],
        blend.BlendTokenizer(tok["digest"], tok["eod"], tok["vocab_size"]),
    )  # fmt: skip


def _summary(manifest: dict[str, Any]) -> dict:
    rows = []
    for name, s in manifest["sources"].items():
        rows.append([name, f"{s['share']:.3f}", f"{s['observed_share_first_10k']:.3f}", s["documents"], s["tokens"],
                     s["tokens_drawn"], f"{s['epochs']:.2f}", ", ".join(sorted(s["licenses"]["kept"]))[:60]])  # fmt: skip
    total = [
        "total",
        "1.000",
        "",
        sum(r[3] for r in rows),
        sum(r[4] for r in rows),
        sum(r[5] for r in rows),
        "",
        "",
    ]
    title = (f"mix: {manifest['num_samples']:,} samples × {manifest['seq_length']} tokens "
             f"(budget {manifest['token_budget']:,}; shares observed over the first 10k samples)")  # fmt: skip
    return summary_table(title, ["source", "share", "observed", "documents", "tokens", "tokens drawn", "epochs", "licenses"],
                         rows, total)  # fmt: skip


def datacard(manifest: dict[str, Any]) -> str:
    lines = ["# Continued-pretraining mix", "",
             f"{manifest['num_samples']:,} samples of {manifest['seq_length']} tokens ({manifest['token_budget']:,}-token budget), "
             f"tokenizer `{manifest['tokenizer']['path']}` (EOD `{manifest['tokenizer']['eod_token']}`), seed {manifest['seed']}.", "",
             "| source | share | documents | tokens | tokens drawn | epochs |", "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for name, s in manifest["sources"].items():
        lines.append(
            f"| {name} | {s['share']:.3f} | {s['documents']:,} | {s['tokens']:,} | {s['tokens_drawn']:,} | {s['epochs']:.2f} |"
        )
    for name, s in manifest["sources"].items():
        lines += [
            "",
            f"## {name}",
            "",
            "Licenses (documents kept"
            + (", dropped by the license policy)" if s["licenses"]["dropped"] else ")")
            + ":",
        ]
        for lic, n in sorted(s["licenses"]["kept"].items()):
            lines.append(f"- {lic}: {n:,}")
        for lic, n in sorted(s["licenses"]["dropped"].items()):
            lines.append(f"- {lic}: {n:,} dropped")
        for title, key in (("Tokens drawn by family (expected)", "tokens_drawn_by_family"),
                           ("Tokens by corpus", "tokens_by_source"), ("Tokens drawn by task (expected)", "tokens_drawn_by_task")):  # fmt: skip
            if s[key]:
                lines += ["", f"{title}:"] + [
                    f"- {k}: {v:,}" for k, v in sorted(s[key].items(), key=lambda kv: -kv[1])
                ]
    lines += ["", "Megatron data path:", "", "```", " ".join(str(x) for x in manifest["data_paths"]), "```"]
    return "\n".join(lines) + "\n"
