"""torch.utils.data's DataPipe surface against PyTorch: subclassing IterDataPipe/MapDataPipe, functional
registration, DataChunk, non_deterministic with guaranteed_datapipes_determinism, runtime_validation errors."""
import pytest

import torsh
from helpers import check_same_error, torch_ref

pytestmark = pytest.mark.skipif(torch_ref is None, reason="compares with PyTorch")


def build_pipes(lib, suffix):
    data = lib.utils.data

    class Numbers(data.IterDataPipe):
        def __init__(self, n):
            self.n = n

        def __iter__(self):
            yield from range(self.n)

    @data.functional_datapipe(f"torsh_test_times_{suffix}")
    class Times(data.IterDataPipe):
        def __init__(self, source, k):
            self.source, self.k = source, k

        def __iter__(self):
            for x in self.source:
                yield x * self.k

    class Squares(data.MapDataPipe):
        def __getitem__(self, i):
            return i * i

        def __len__(self):
            return 4
    return Numbers, Times, Squares


@pytest.mark.parametrize("lib, suffix", [(torsh, "a"), (torch_ref, "a")], ids=["torsh", "torch"])
def test_pipes_iterate_and_chain(lib, suffix):
    Numbers, Times, Squares = build_pipes(lib, suffix + lib.__name__)
    piped = getattr(Numbers(4), f"torsh_test_times_{suffix}{lib.__name__}")(3)
    assert list(piped) == [0, 3, 6, 9]
    assert isinstance(piped, lib.utils.data.IterableDataset) and str(piped) == "build_pipes.<locals>.Times"
    assert [Squares()[i] for i in range(len(Squares()))] == [0, 1, 4, 9]


def test_missing_functional_form_errors():
    def fn(lib):
        Numbers, _, _ = build_pipes(lib, "b" + lib.__name__)
        return Numbers(2).not_a_registered_form
    check_same_error(fn)


def test_data_chunk():
    for lib in (torsh, torch_ref):
        chunk = lib.utils.data.DataChunk([1, 2, 3])
        assert list(chunk) == [1, 2, 3] and list(chunk.raw_iterator()) == [1, 2, 3]
        assert chunk.as_str(">") == ">[1, 2, 3]" and isinstance(chunk, list)
    assert torsh.utils.data.DataChunk([4]).as_str() == torch_ref.utils.data.DataChunk([4]).as_str()


def test_non_deterministic_under_guaranteed_determinism():
    def fn(lib):
        Numbers, _, _ = build_pipes(lib, "c" + lib.__name__)
        marked = lib.utils.data.non_deterministic(Numbers)
        assert list(marked(2)) == [0, 1]  # fine outside the guarantee
        with lib.utils.data.guaranteed_datapipes_determinism():
            marked(2)
    check_same_error(fn)
    check_same_error(lambda lib: lib.utils.data.non_deterministic(int))


def test_runtime_validation():
    check_same_error(lambda lib: lib.utils.data.runtime_validation(lambda: 1))
    for lib in (torsh, torch_ref):
        with lib.utils.data.runtime_validation_disabled():
            pass

        @lib.utils.data.argument_validation
        def takes(x):
            return x + 1
        assert takes(1) == 2
