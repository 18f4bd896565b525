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
    ('nn_functional_multi_head_attention_forward', 'int64'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): message: torsh 'expected m1 and m2 to have the same dtype, but got: float != long int', PyTorch 'expected scalar type Float but found Long'",
    ('nn_functional_multi_head_attention_forward', 'zero_dim'):
        "nn.functional (torsh/_ops/nn, outside this sweep's fix scope): exception type: torsh IndexError(Dimension out of range (expected to be in range of [-1, 0], but got 1)), PyTorch AssertionError",
    ('nn_functional_scaled_dot_product_attention', 'bool'):
        'nn.functional (torsh/_ops/nn, outside this sweep\'s fix scope): message: torsh \'"addmm_impl_cpu_" not implemented for \\\'Bool\\\'\', PyTorch \'expected m1 and m2 to have the same dtype, but got: float != bool\'',
    ('stft', 'empty'):
        'not fixed yet: exception type: torsh IndexError(cannot do a non-empty take from an empty axes.), PyTorch RuntimeError',
    ('stft', 'zero_dim'):
        'not fixed yet: exception type: torsh IndexError(tuple index out of range), PyTorch RuntimeError',
}
