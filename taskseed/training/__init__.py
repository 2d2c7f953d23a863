"""Phase 5, train: `mix` → `train` (a continued-pretrained checkpoint in Hugging Face format).

In: the mix artifact and a base model. Out: the checkpoint (`model/`, loadable by lm-eval's hf backend and
vLLM) with its per-step training log. Trainers: `cpu` (plain PyTorch under torchrun, reading the blend with
megatron-core's GPTDataset) and `automodel` (NeMo AutoModel on GPUs, in its own environment).
"""
