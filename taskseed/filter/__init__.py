"""Phase 3, filter: `enrich` (or `generate`) → `filter` (kept/ and rejected/ with every check's verdict).

In: synthetic examples, their seeds, and the `evalset` artifact (every evaluated split of the evaluation
suites, rendered and embedded once; built here from the catalog). Out: the `filter` artifact.
Checks live one per module (format, quality, dedup, decontam, verify); the engines they use beside them:
`minhash` (near duplicates), `ngrams` and `embed` (decontamination), `sandbox` (running code).
"""
