"""torch.backends.opt_einsum: torsh's einsum contracts in NumPy's order; opt_einsum is not used."""
enabled = False
strategy = None


def is_available():
    return False
