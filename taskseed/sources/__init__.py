"""Phase 1, collect and normalize: lm-eval's registry → `catalog` artifact → `seeds` artifact.

In: lm-eval's task registry, the data source (the offline mirror or the Hub), the license table.
Out: `catalog` (every task: splits, family, license, eligibility) and `seeds` (DESIGN §3 seed records from
training splits only, behind the split firewall and the license policy).
"""
