"""Fused RNN layers: ``fused_layer`` (one autograd node per LSTM/GRU layer and direction) and its helpers:
``input_gates``, ``weight_grads`` (GEMMs overlapped on a pool thread), ``gemm``, ``buffers``."""
