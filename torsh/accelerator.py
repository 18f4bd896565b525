"""torch.accelerator: torsh runs on the CPU only, so there is no current accelerator."""


def is_available():
    return False


def current_accelerator(check_available=False):
    return None


def device_count():
    return 0
