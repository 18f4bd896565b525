"""torch.cuda.tunable: TunableOp's GEMM tuning is a CUDA/ROCm feature; the CPU build has no bindings for it."""
from ._unavailable import no_binding

__all__ = ["enable", "is_enabled", "tuning_enable", "tuning_is_enabled", "record_untuned_enable",
           "record_untuned_is_enabled", "set_max_tuning_duration", "get_max_tuning_duration",
           "set_max_tuning_iterations", "get_max_tuning_iterations", "set_filename", "get_filename", "get_results",
           "get_validators", "read_file", "tune_gemm_in_file", "mgpu_tune_gemm_in_file", "set_rotating_buffer_size",
           "get_rotating_buffer_size", "set_numerical_check_tolerances"]

_BINDINGS = {
    "enable": "_cuda_tunableop_enable", "is_enabled": "_cuda_tunableop_is_enabled",
    "tuning_enable": "_cuda_tunableop_tuning_enable", "tuning_is_enabled": "_cuda_tunableop_tuning_is_enabled",
    "record_untuned_enable": "_cuda_record_untuned_enable",
    "record_untuned_is_enabled": "_cuda_record_untuned_is_enabled",
    "set_max_tuning_duration": "_cuda_tunableop_set_max_tuning_duration",
    "get_max_tuning_duration": "_cuda_tunableop_get_max_tuning_duration",
    "set_max_tuning_iterations": "_cuda_tunableop_set_max_tuning_iterations",
    "get_max_tuning_iterations": "_cuda_tunableop_get_max_tuning_iterations",
    "set_filename": "_cuda_tunableop_set_filename", "get_filename": "_cuda_tunableop_get_filename",
    "get_results": "_cuda_tunableop_get_results", "get_validators": "_cuda_tunableop_get_validators",
    "read_file": "_cuda_tunableop_read_file", "tune_gemm_in_file": "_cuda_tunableop_tune_gemm_in_file",
    "mgpu_tune_gemm_in_file": "_cuda_tunableop_mgpu_tune_gemm_in_file",
    "set_rotating_buffer_size": "_cuda_tunableop_set_rotating_buffer_size",
    "get_rotating_buffer_size": "_cuda_tunableop_get_rotating_buffer_size",
    "set_numerical_check_tolerances": "_cuda_tunableop_set_numerical_check_tolerances",
}
globals().update({name: no_binding(binding) for name, binding in _BINDINGS.items()})
