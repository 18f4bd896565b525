"""torch.cuda.random on a CPU build: seeding is accepted and ignored (PyTorch queues it until CUDA starts,
which never happens); reading a generator's state needs the device."""
from ._unavailable import not_compiled

__all__ = ["get_rng_state", "get_rng_state_all", "set_rng_state", "set_rng_state_all", "manual_seed",
           "manual_seed_all", "seed", "seed_all", "initial_seed"]


def get_rng_state(device="cuda"):
    not_compiled()


def get_rng_state_all():
    return []  # one state per device: none


def set_rng_state(new_state, device="cuda"):
    return None


def set_rng_state_all(new_states):
    for state in new_states:
        set_rng_state(state)


def manual_seed(seed):
    """Accepted and ignored: there is no CUDA generator to seed."""
    int(seed)


def manual_seed_all(seed):
    int(seed)


def seed():
    return None


def seed_all():
    return None


def initial_seed():
    not_compiled()
