"""Phase 4, mix: `filter` → `render` (pretraining documents) → `mix` (a tokenized Megatron blend).

In: the filter's kept examples (and, optionally, the seeds), a replay corpus, the model's tokenizer.
Out: `render` (Parquet documents in randomized surface formats, with a data card) and `mix` (Megatron
.bin/.idx per source and the mixture manifest with the data-path list NeMo/Megatron trainers read).
"""
