"""Every known divergence still diverges (strict xfail): once one is fixed this fails, remove its entry."""
import pytest

from .compare import divergence, reference
from .known import KNOWN_DIVERGENCES


@pytest.mark.parametrize("known", [pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=k.reason), id=k.reason[:60])
                                   for k in KNOWN_DIVERGENCES])
def test_known_divergence(known, worker):
    ours, ref = worker.run(known.example), reference(known.example)
    problem = divergence(known.example, ours, ref)
    assert problem is None, f"{known.example!r}: {problem}"


@pytest.mark.parametrize("known", KNOWN_DIVERGENCES, ids=[k.reason[:60] for k in KNOWN_DIVERGENCES])
def test_known_entry_matches_its_example(known, worker):
    """An entry's predicate recognises its own example (else it would not excuse the fuzz tests' cases)."""
    assert known.applies(known.example, worker.run(known.example), reference(known.example))
