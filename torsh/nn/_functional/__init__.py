"""The pieces of torsh.nn.functional, one file per family; ``nn.functional`` re-exports them."""
