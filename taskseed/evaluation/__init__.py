"""Phase 6, evaluate: `train` (a checkpoint) → `eval` (lm-eval scores and per-instance logs) → `report`
(baseline-vs-treatment deltas with paired-bootstrap confidence intervals, tables, plots, MLflow).

In: a checkpoint (or the base model, or any model folder), the catalog (which leaf tasks each suite holds,
where their YAML lives), the data mirror. Out: `eval` artifacts (one per model, the base model's reused by
every treatment) and the `report` artifact.
"""
