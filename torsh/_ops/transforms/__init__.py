"""Function-transform machinery: ``batched_tensor`` (vmap's BatchedTensor and dispatch), ``vmap_rules``
(batching rules) and ``jvp_rules`` (forward-mode rules), attached to the registry's entries."""
