"""torch.backends.xeon: PyTorch's Xeon launcher lives in its run_cpu submodule (not in torsh)."""
