"""Hypothesis profiles of the fuzz suite, chosen by TORSH_FUZZ_PROFILE.

"ci" (the default, what `make test` runs): derandomized (a fixed seed per test), no example
database, a bounded number of examples per test so the whole suite stays within about three
minutes on a 2-core machine. "long" (`make fuzz`): random seeds, LONG_FACTOR times the examples,
failures saved in hypothesis' database and printed with a reproduction blob.
"""
import os

from hypothesis import HealthCheck, Phase, settings

LONG_FACTOR = 40
PROFILE = os.environ.get("TORSH_FUZZ_PROFILE", "ci")

_COMMON = dict(
    deadline=None,  # timings on 2 shared cores say nothing about correctness
    print_blob=True,
    # tests/conftest.py's autouse fixture only restores global state, harmless between examples
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture, HealthCheck.large_base_example],
)
settings.register_profile("ci", derandomize=True, database=None, max_examples=10, **_COMMON)
settings.register_profile("long", derandomize=False, max_examples=10 * LONG_FACTOR, **_COMMON)
# "triage": the CI examples without shrinking, to list many failing tests fast while fixing
settings.register_profile("triage", derandomize=True, database=None, max_examples=10,
                          phases=[Phase.explicit, Phase.generate], **_COMMON)
settings.load_profile(PROFILE)


def examples(n):
    """Settings for a test worth ``n`` examples in CI (LONG_FACTOR times that under the long profile)."""
    return settings(max_examples=n * (LONG_FACTOR if PROFILE == "long" else 1))
