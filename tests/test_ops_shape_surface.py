"""Table tests: flips/rolls, repeats, triangles/diagonals, broadcasting, stacking, splitting, grids."""
from opinfo import STRIDED, Op, S, T, make_tests, tensor_of

ALL = ("float32", "float64", "int64")


def seq(name):
    """fn for ops taking a sequence of tensors."""
    return lambda lib, *ts, **kw: getattr(lib, name)(list(ts), **kw)


def each(name):
    """fn for ops taking tensors as separate arguments."""
    return lambda lib, *ts, **kw: getattr(lib, name)(*ts, **kw)


OPS = [
    Op("flip", lambda lib, a, dims: lib.flip(a, dims),
       [S((3, 4), dims=(0,)), S((3, 4), dims=(0, 1)), S((2, 3, 4), dims=[-1, 0]), S((), dims=(0,), name="0d"),
        S((0, 3), dims=(1,), name="empty"), S((4, 3), dims=(1,), prep=T, name="transposed"),
        S((6, 5), dims=(0,), prep=STRIDED, name="strided"), S((3, 4), dims=(), name="no_dims")], dtypes=ALL),
    Op("flip_method", lambda lib, a: a.flip(-1, 0), [S((3, 4))]),
    Op("fliplr", lambda lib, a: lib.fliplr(a), [S((3, 4)), S((2, 3, 4))], dtypes=ALL),
    Op("flipud", lambda lib, a: a.flipud(), [S((3, 4)), S((5,))], dtypes=ALL),
    Op("roll", lambda lib, a, **kw: lib.roll(a, **kw),
       [S((3, 4), shifts=1, dims=0), S((3, 4), shifts=(1, -5), dims=(0, 1)), S((3, 4), shifts=5, name="flat"),
        S((2, 3, 4), shifts=(2,), dims=(-1,)), S((), shifts=3, name="0d"), S((0, 3), shifts=1, dims=1, name="empty"),
        S((4, 3), shifts=-2, dims=1, prep=T, name="transposed")], dtypes=ALL),
    Op("roll_method", lambda lib, a: a.roll(2, 1), [S((3, 4))]),
    Op("rot90", lambda lib, a, **kw: lib.rot90(a, **kw),
       [S((3, 4)), S((3, 4), k=2), S((3, 4), k=3), S((3, 4), k=-1), S((3, 4), k=4),
        S((2, 3, 4), k=1, dims=[2, 0]), S((4, 3), k=1, prep=T, name="transposed")], dtypes=ALL),
    Op("repeat", lambda lib, a, sizes: a.repeat(*sizes),
       [S((3, 4), sizes=(2, 1)), S((3, 4), sizes=(2, 1, 3)), S((3,), sizes=(0, 2), name="zero"),
        S((), sizes=(2, 3), name="0d"), S((4, 3), sizes=(1, 2), prep=T, name="transposed"),
        S((2, 3), sizes=((2, 2),), name="tuple_arg")], dtypes=ALL),
    Op("tile", lambda lib, a, dims: lib.tile(a, dims),
       [S((3, 4), dims=(2,)), S((3, 4), dims=(2, 1, 2)), S((3,), dims=(2, 2)), S((), dims=(3,), name="0d")],
       dtypes=ALL),
    Op("tile_method", lambda lib, a: a.tile(2, 1), [S((3, 4))]),
    Op("repeat_interleave", lambda lib, a, **kw: lib.repeat_interleave(a, **kw),
       [S((3, 4), repeats=2), S((3, 4), repeats=2, dim=1), S((3, 4), repeats=tensor_of([1, 0, 2]), dim=0),
        S((3, 4), repeats=tensor_of([3]), dim=-1, name="one_repeat_tensor"), S((), repeats=3, name="0d"),
        S((4, 3), repeats=tensor_of([1, 2, 3, 0]), dim=1, prep=T, name="transposed")], dtypes=ALL),
    Op("repeat_interleave_method", lambda lib, a: a.repeat_interleave(2, 0, output_size=6), [S((3, 2))]),
    Op("repeat_interleave_counts", lambda lib: lib.repeat_interleave(lib.tensor([2, 0, 3])), [S()],
       dtypes=("int64",), differentiable=False),
    Op("tril", lambda lib, a, **kw: lib.tril(a, **kw),
       [S((3, 4)), S((3, 4), diagonal=1), S((3, 4), diagonal=-2), S((2, 3, 3)), S((4, 3), prep=T, name="transposed"),
        S((0, 3), name="empty")], dtypes=ALL + ("bool",)),
    Op("triu", lambda lib, a, **kw: a.triu(**kw),
       [S((3, 4)), S((3, 4), diagonal=2), S((3, 4), diagonal=-1), S((2, 4, 3)), S((6, 5), prep=STRIDED)],
       dtypes=ALL + ("bool",)),
    Op("tril_", lambda lib, a: a.clone().tril_(-1), [S((3, 4))]),
    Op("triu_", lambda lib, a: a.clone().triu_(1), [S((3, 4))]),
    Op("diagonal", lambda lib, a, **kw: lib.diagonal(a, **kw),
       [S((3, 4)), S((3, 4), offset=1), S((3, 4), offset=-2), S((3, 4), offset=5, name="offset_past_end"),
        S((2, 3, 4), dim1=-1, dim2=0), S((2, 3, 4), offset=1, dim1=2, dim2=1),
        S((4, 3), prep=T, name="transposed")], dtypes=ALL),
    Op("diagonal_method_write", lambda lib, a: _write_diagonal(lib, a), [S((3, 4))]),
    Op("diag", lambda lib, a, **kw: lib.diag(a, **kw),
       [S((3,)), S((3,), diagonal=1), S((3,), diagonal=-2), S((3, 4)), S((3, 4), diagonal=-1),
        S((4, 3), diagonal=1, prep=T, name="transposed")], dtypes=ALL),
    Op("diag_embed", lambda lib, a, **kw: lib.diag_embed(a, **kw),
       [S((3,)), S((2, 3)), S((2, 3), offset=1), S((2, 3), offset=-1, dim1=0, dim2=2), S((2, 3), dim1=-1, dim2=0)],
       dtypes=ALL),
    Op("diagflat", lambda lib, a, **kw: lib.diagflat(a, **kw), [S((3,)), S((2, 2)), S((2, 2), offset=-1)], dtypes=ALL),
    Op("diagonal_scatter", lambda lib, a, b, **kw: lib.diagonal_scatter(a, b, **kw),
       [S((3, 4), (3,)), S((3, 4), (2,), offset=2), S((2, 3, 4), (2, 3), dim1=1, dim2=2)]),
    Op("broadcast_to", lambda lib, a, shape: lib.broadcast_to(a, shape),
       [S((3, 1), shape=(3, 4)), S((4,), shape=(2, 3, 4)), S((), shape=(2,), name="0d"),
        S((1, 3), shape=(-1, 3), name="minus_one")], dtypes=ALL),
    Op("broadcast_to_method", lambda lib, a: a.broadcast_to((2, 3)), [S((3,))]),
    Op("broadcast_tensors", each("broadcast_tensors"),
       [S((3, 1), (4,)), S((), (2, 3), (3,), name="three"), S((0, 1), (3,), name="empty")], dtypes=ALL),
    Op("expand_as", lambda lib, a, b: a.expand_as(b), [S((3, 1), (2, 3, 4)), S((), (2,))]),
    Op("atleast_1d", each("atleast_1d"), [S(()), S((3,)), S((2, 3)), S((), (2, 2), name="two")]),
    Op("atleast_2d", each("atleast_2d"), [S(()), S((3,)), S((2, 3)), S((2, 3, 4)), S((), (3,), name="two")]),
    Op("atleast_3d", each("atleast_3d"), [S(()), S((3,)), S((2, 3)), S((2, 3, 4)), S((3,), (2, 2), name="two")]),
    Op("atleast_1d_list", lambda lib, a, b: lib.atleast_1d([a, b]), [S((), (2,))]),
    Op("hstack", seq("hstack"), [S((3,), (2,)), S((2, 3), (2, 1)), S((), (2,), name="0d")], dtypes=ALL),
    Op("vstack", seq("vstack"), [S((3,), (3,)), S((2, 3), (1, 3)), S((2, 3, 2), (1, 3, 2))], dtypes=ALL),
    Op("row_stack", seq("row_stack"), [S((3,), (2, 3))]),
    Op("dstack", seq("dstack"), [S((3,), (3,)), S((2, 3), (2, 3)), S((2, 3, 1), (2, 3, 2))], dtypes=ALL),
    Op("column_stack", seq("column_stack"), [S((3,), (3, 2)), S((), (1, 2), name="0d"), S((3,), (3,))], dtypes=ALL),
    Op("tensor_split", lambda lib, a, ios, **kw: lib.tensor_split(a, ios, **kw),
       [S((7, 3), ios=3), S((7, 3), ios=[1, 4]), S((3, 7), ios=(2, 10), dim=1, name="past_end"),
        S((3, 7), ios=[-2, 2], dim=-1, name="negative"), S((5,), ios=tensor_of([1, 3]), name="tensor_indices"),
        S((5,), ios=tensor_of(2), name="tensor_sections"), S((2, 5), ios=7, dim=1, name="more_sections")], dtypes=ALL),
    Op("tensor_split_method", lambda lib, a: a.tensor_split(2, 1), [S((3, 5))]),
    Op("hsplit", lambda lib, a, ios: lib.hsplit(a, ios), [S((3, 4), ios=2), S((3, 4), ios=[1]), S((6,), ios=3)]),
    Op("vsplit", lambda lib, a, ios: a.vsplit(ios), [S((4, 3), ios=2), S((4, 3), ios=[1, 3])]),
    Op("dsplit", lambda lib, a, ios: lib.dsplit(a, ios), [S((2, 3, 4), ios=2)]),
    Op("split_sizes", lambda lib, a: a.split([1, 3], 1), [S((3, 4))]),
    Op("unbind", lambda lib, a, **kw: lib.unbind(a, **kw),
       [S((3, 4)), S((3, 4), dim=1), S((2, 3, 4), dim=-1), S((4, 3), dim=1, prep=T, name="transposed")], dtypes=ALL),
    Op("narrow", lambda lib, a, **kw: lib.narrow(a, **kw),
       [S((3, 4), dim=0, start=1, length=2), S((3, 4), dim=-1, start=-3, length=2, name="negative_start"),
        S((3, 4), dim=1, start=4, length=0, name="empty")], dtypes=ALL),
    Op("narrow_method", lambda lib, a: a.narrow(1, 1, 2), [S((4, 3), prep=T)]),
    Op("movedim", lambda lib, a, **kw: lib.movedim(a, **kw),
       [S((2, 3, 4), source=0, destination=2), S((2, 3, 4), source=(0, 1), destination=(2, 0)),
        S((2, 3, 4), source=-1, destination=0)], dtypes=ALL),
    Op("moveaxis", lambda lib, a: a.moveaxis(1, -1), [S((2, 3, 4))]),
    Op("swapaxes", lambda lib, a: lib.swapaxes(a, 0, -1), [S((2, 3, 4))]),
    Op("swapdims", lambda lib, a: a.swapdims(1, 2), [S((2, 3, 4))]),
    Op("unflatten", lambda lib, a, **kw: lib.unflatten(a, **kw),
       [S((6, 4), dim=0, sizes=(2, 3)), S((3, 8), dim=-1, sizes=(2, -1)), S((4, 6), dim=0, sizes=(2, 3), prep=T,
                                                                             name="transposed")]),
    Op("squeeze_tuple", lambda lib, a, dim: a.squeeze(dim),
       [S((1, 3, 1, 4), dim=(0, 2)), S((1, 3, 1, 4), dim=(-1, -2)), S((1, 3, 1), dim=())]),
    Op("meshgrid_ij", lambda lib, *ts: lib.meshgrid(*ts, indexing="ij"),
       [S((3,), (4,)), S((2,), (3,), (4,), name="three"), S((), (3,), name="0d"), S((3,), name="one")], dtypes=ALL),
    Op("meshgrid_xy", lambda lib, *ts: lib.meshgrid(list(ts), indexing="xy"),
       [S((3,), (4,)), S((2,), (3,), (4,), name="three")]),
    Op("cartesian_prod", each("cartesian_prod"), [S((3,), (2,)), S((2,), (2,), (3,), name="three"), S((3,))],
       dtypes=ALL),
    Op("block_diag", each("block_diag"),
       [S((2, 2), (1, 3)), S((3,), (), (2, 1), name="mixed_ranks"), S((2, 2), (0, 2), name="empty_block")],
       dtypes=ALL),
]


def _write_diagonal(lib, a):
    """diagonal() is a writeable view: writing through it changes the base (and autograd sees it)."""
    b = a.clone()
    b.diagonal().mul_(2)
    b.diagonal(1).fill_(0.5)
    return b


test_forward, test_backward, test_gradcheck = make_tests(OPS)
