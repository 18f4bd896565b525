"""Divergences of the registry conformance sweep (test_registry_conformance.py) not fixed: (op, variant) ->
what differs. test_known_divergence_still_diverges asserts each still diverges: once fixed, remove the entry."""

KNOWN = {
    ('as_strided_scatter', 'strided'):
        'not fixed yet: result: Not equal to tolerance rtol=1e-05, atol=1e-05 Mismatched elements: 4 / 12 (33.3%) Mismatch at indices: [0, 1]: 0.8653246164321899 (ACTUAL), 0....',
    ('fft_fft', 'empty'):
        "intended: PyTorch's oneMKL backend fails on a 1-D FFT over a zero-size batch dim with an MKL configuration error (not a documented rule); torsh returns the empty result",
    ('fft_hfft', 'empty'):
        "intended: PyTorch's oneMKL backend fails on a 1-D FFT over a zero-size batch dim with an MKL configuration error (not a documented rule); torsh returns the empty result",
    ('fft_ifft', 'empty'):
        "intended: PyTorch's oneMKL backend fails on a 1-D FFT over a zero-size batch dim with an MKL configuration error (not a documented rule); torsh returns the empty result",
    ('fft_ihfft', 'empty'):
        "intended: PyTorch's oneMKL backend fails on a 1-D FFT over a zero-size batch dim with an MKL configuration error (not a documented rule); torsh returns the empty result",
    ('fft_irfft', 'empty'):
        "intended: PyTorch's oneMKL backend fails on a 1-D FFT over a zero-size batch dim with an MKL configuration error (not a documented rule); torsh returns the empty result",
    ('fft_rfft', 'empty'):
        "intended: PyTorch's oneMKL backend fails on a 1-D FFT over a zero-size batch dim with an MKL configuration error (not a documented rule); torsh returns the empty result",
    ('isin', 'strided'):
        "intended: PyTorch's isin fails on a non-contiguous input (its default kernel calls .view() on it: 'view size is not compatible with input tensor's size and stride'), a PyTorch bug; torsh answers",
    ('nn_functional_batch_norm', 'zero_dim'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh ValueError(Expected more than 1 value per channel when training, got input size torsh.Size([])), PyTorch IndexError",
    ('nn_functional_bilinear', 'empty'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): message: torsh 'The size of tensor a (0) must match the size of tensor b (3) at non-singleton dimension 0', PyTorch 'bilinear(): input batch dimension...",
    ('nn_functional_bilinear', 'zero_dim'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh IndexError(Dimension out of range (expected to be in range of [-1, 0], but got -2)), PyTorch RuntimeError",
    ('nn_functional_ctc_loss', 'empty'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): message: torsh 'Expected input_lengths to have value at most 0, but got value 4 (while checking arguments for ctc_loss_cpu)', PyTorch 'log_probs tenso...",
    ('nn_functional_embedding', 'empty'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh IndexError(index out of range in self), PyTorch RuntimeError",
    ('nn_functional_embedding', 'zero_dim'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh IndexError(tuple index out of range), PyTorch RuntimeError",
    ('nn_functional_embedding_bag', 'bool'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh UFuncTypeError(Cannot cast ufunc 'divide' output from dtype('float64') to dtype('bool') with casting rule 'same_kind'), PyTorch ...",
    ('nn_functional_embedding_bag', 'empty'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh IndexError(index out of range in self), PyTorch RuntimeError",
    ('nn_functional_embedding_bag', 'int64'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh UFuncTypeError(Cannot cast ufunc 'divide' output from dtype('float64') to dtype('int64') with casting rule 'same_kind'), PyTorch...",
    ('nn_functional_embedding_bag', 'zero_dim'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh IndexError(tuple index out of range), PyTorch ValueError",
    ('nn_functional_interpolate', 'bool'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"compute_indices_weights_linear" not implemented for \\\'Bool\\\'\', PyTorch \'"upsample_bilinear2d_channels_last" not implemented for \\\'Boo...',
    ('nn_functional_interpolate', 'int64'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"compute_indices_weights_linear" not implemented for \\\'Long\\\'\', PyTorch \'"upsample_bilinear2d_channels_last" not implemented for \\\'Lon...',
    ('nn_functional_linear', 'zero_dim'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): message: torsh 'mat1 and mat2 shapes cannot be multiplied (1x1 and 4x3)', PyTorch 'both arguments to linear need to be at least 1D, but they are 0D an...",
    ('nn_functional_multi_head_attention_forward', 'int64'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): message: torsh 'expected m1 and m2 to have the same dtype, but got: float != long int', PyTorch 'expected scalar type Float but found Long'",
    ('nn_functional_multi_head_attention_forward', 'zero_dim'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh IndexError(Dimension out of range (expected to be in range of [-1, 0], but got 1)), PyTorch AssertionError",
    ('nn_functional_scaled_dot_product_attention', 'bool'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"addmm_impl_cpu_" not implemented for \\\'Bool\\\'\', PyTorch \'expected m1 and m2 to have the same dtype, but got: float != bool\'',
    ('nn_functional_upsample', 'bool'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"compute_indices_weights_linear" not implemented for \\\'Bool\\\'\', PyTorch \'"upsample_bilinear2d_channels_last" not implemented for \\\'Boo...',
    ('nn_functional_upsample', 'int64'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"compute_indices_weights_linear" not implemented for \\\'Long\\\'\', PyTorch \'"upsample_bilinear2d_channels_last" not implemented for \\\'Lon...',
    ('nn_functional_upsample_bilinear', 'bool'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"compute_indices_weights_linear" not implemented for \\\'Bool\\\'\', PyTorch \'"upsample_bilinear2d_channels_last" not implemented for \\\'Boo...',
    ('nn_functional_upsample_bilinear', 'int64'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"compute_indices_weights_linear" not implemented for \\\'Long\\\'\', PyTorch \'"upsample_bilinear2d_channels_last" not implemented for \\\'Lon...',
    ('nn_functional_upsample_nearest', 'bool'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"compute_indices_weights_nearest" not implemented for \\\'Bool\\\'\', PyTorch \'"upsample_nearest2d_channels_last" not implemented for \\\'Boo...',
    ('nn_functional_upsample_nearest', 'int64'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"compute_indices_weights_nearest" not implemented for \\\'Long\\\'\', PyTorch \'"upsample_nearest2d_channels_last" not implemented for \\\'Lon...',
    ('stft', 'empty'):
        'not fixed yet: exception type: torsh IndexError(cannot do a non-empty take from an empty axes.), PyTorch RuntimeError',
    ('stft', 'zero_dim'):
        'not fixed yet: exception type: torsh IndexError(tuple index out of range), PyTorch RuntimeError',
}
