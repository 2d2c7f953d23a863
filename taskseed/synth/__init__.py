"""Phase 2, synthesize: `seeds` → `generate` (fresh examples) → `enrich` (knowledge, reasoning, distractors).

In: the seeds artifact and an LLM backend (`taskseed.llm`). Out: `generate` and `enrich` artifacts of
synthetic examples (DESIGN §3), kept and rejected, each rejection with its reason.
"""
