"""NumPy's argument names, accepted where PyTorch's Python arg parser accepts them.

For every native op and Tensor method, PyTorch's parser (python_arg_parser.cpp, ``numpy_compatibility_arg_names``)
takes ``axis`` for ``dim``, ``keepdims`` for ``keepdim``, ``x`` / ``a`` / ``x1`` for ``input`` and ``x2`` for
``other``: ``P.sum(1, keepdims=True)``, ``torch.max(t, axis=1)``, ``torch.add(x1=a, x2=b)``. The registry binds
``accepting_aliases(fn)`` instead of ``fn`` for an op with parameters of those names.

That binding is generated with ``fn``'s own parameters (and default objects) plus a ``**`` catch-all, so a call
naming no alias binds its arguments once, checks that the catch-all is empty and calls ``fn`` with them: one
Python call more (and an empty dict). Only a call with another keyword takes the renaming path, which raises
PyTorch's TypeError for an alias beside its parameter or beside an unknown keyword (naming, as PyTorch's parser,
the first keyword that is no parameter's own name). An aliased parameter's default is a sentinel in the binding
(the fast path swaps the declared default back in), so ``t.sum(1, keepdim=False, keepdims=True)`` raises as
PyTorch's parser does, even though ``False`` is keepdim's default.
"""
import functools
import os

ALIASES = {"axis": "dim", "keepdims": "keepdim", "x": "input", "a": "input", "x1": "input", "x2": "other"}
INPUT_ALIASES = frozenset(a for a, p in ALIASES.items() if p == "input")
# Tensor.<op>_: only the dimension names (cumsum_(axis=0)); x.add_(x2=y) stays unsupported so that the
# in-place arithmetic the optimizers run keeps its direct binding
INPLACE_ALIASES = frozenset({"axis", "keepdims"})

# ops PyTorch defines in Python (torch/functional.py, torch/_tensor.py): its parser never sees their arguments,
# so they take no alias (torch.split(t, 1, axis=0) is a TypeError); tests/test_arg_aliases.py checks the lists
PYTHON_FUNCTIONS = frozenset({"norm", "split", "unique", "unique_consecutive", "stft"})
PYTHON_METHODS = frozenset({"norm", "unflatten", "split", "unique", "unique_consecutive", "stft", "istft"})

# TORSH_NUMPY_ALIASES=0 (read at import): bind the declared functions themselves, no alias taken (to A/B the
# binding's cost: one Python call per aliasing call)
ENABLED = os.environ.get("TORSH_NUMPY_ALIASES", "1") != "0"

_MISSING = object()  # a required parameter an alias may stand for, not given
_CO_VARARGS, _CO_VARKEYWORDS = 0x04, 0x08


class Signature:
    """A function's parameters as its code object has them (``__wrapped__`` followed) and its defaults."""
    __slots__ = ("n_posonly", "positional", "varargs", "keyword_only", "varkw", "defaults", "kwdefaults", "names")

    def __init__(self, fn):
        while hasattr(fn, "__wrapped__"):
            fn = fn.__wrapped__
        code = fn.__code__
        n_positional, n_keyword_only = code.co_argcount, code.co_kwonlyargcount
        names = code.co_varnames
        self.n_posonly = code.co_posonlyargcount
        self.positional = names[:n_positional]
        self.keyword_only = names[n_positional:n_positional + n_keyword_only]
        rest = n_positional + n_keyword_only
        self.varargs = names[rest] if code.co_flags & _CO_VARARGS else None
        self.varkw = names[rest + bool(self.varargs)] if code.co_flags & _CO_VARKEYWORDS else None
        self.defaults = fn.__defaults__ or ()
        self.kwdefaults = fn.__kwdefaults__ or {}
        self.names = frozenset(self.positional[self.n_posonly:] + self.keyword_only)  # what a keyword may name

    def default(self, name):
        """The default of parameter ``name``, or _MISSING."""
        if name in self.kwdefaults:
            return self.kwdefaults[name]
        if name in self.positional:
            i = self.positional.index(name) - (len(self.positional) - len(self.defaults))
            if i >= 0:
                return self.defaults[i]
        return _MISSING


def signature(fn):
    """``fn``'s Signature, or None for what has no code object (a builtin, a class)."""
    try:
        return Signature(fn)
    except AttributeError:
        return None


def aliases_of(sig, *, method=False, only=None):
    """{alias: parameter} for the parameters ``sig`` takes by keyword; a method's self is given, so it takes
    none of ``input``'s; ``only``: the aliases considered."""
    if sig is None:
        return {}
    return {alias: param for alias, param in ALIASES.items()
            if param in sig.names and alias not in sig.names and not (method and alias in INPUT_ALIASES)
            and (only is None or alias in only)}


def accepting_aliases(fn, sig=None, *, method=False, name=None, only=None):
    """``fn``, or a function calling it that also takes NumPy's names of its parameters.

    ``method``: bound as a Tensor method, self being ``input``; ``only``: the aliases considered; ``sig``: the
    parameters when ``fn`` itself takes ``*args, **kwargs`` (an in-place method taking its op's arguments):
    then the binding forwards each call as given, renaming only when an alias comes."""
    if not ENABLED:
        return fn
    own = sig is None
    sig = signature(fn) if own else sig
    aliases = aliases_of(sig, method=method, only=only)
    if not aliases:
        return fn
    name = name or fn.__name__
    op = (_generated if own else _forwarding)(fn, name, aliases, sig)
    functools.update_wrapper(op, fn)
    op.__name__ = name
    op.numpy_aliases = aliases   # unaliased() and the tests read it
    op.canonical_kwargs = functools.partial(_canonical, name, aliases, sig)  # for op-call hooks reading keywords
    return op


def unaliased(fn):
    """The function an aliasing binding calls (``fn`` itself when it is none)."""
    return fn.__wrapped__ if hasattr(fn, "numpy_aliases") else fn


# -- the generated binding ------------------------------------------------------------------------------
# the bindings' code "file": inside the package's directory, so that warnings attributed to the caller's line
# (torsh._warnings) skip the binding's frame as any torsh frame
_BINDING_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "<arg_aliases binding>")
_FACTORIES = {}  # the binding's source -> its compiled factory: ops with the same parameters share one (named
# by update_wrapper; Python's argument errors name a function by its __qualname__)


def _generated(fn, name, aliases, sig):
    """def <name>(<fn's parameters>, **_aa_kw): if _aa_kw (or an aliased required parameter is missing):
    rename; else call fn with its parameters as they came (keyword-only ones by keyword)."""
    aliased = set(aliases.values())
    n_required = len(sig.positional) - len(sig.defaults)
    first = next((i for i, p in enumerate(sig.positional) if p in aliased), n_required)
    # an aliased required parameter and the required ones after it get the MISSING default (the alias may come)
    optional_from = min(first, n_required)
    missing = sig.positional[optional_from:n_required] + tuple(
        p for p in sig.keyword_only if p in aliased and p not in sig.kwdefaults)
    params = list(sig.positional)
    if sig.n_posonly:
        params.insert(sig.n_posonly, "/")
    if sig.varargs:
        params.append("*" + sig.varargs)
    elif sig.keyword_only:
        params.append("*")
    params += list(sig.keyword_only) + ["**_aa_kw"]
    # aliased parameters with a default take the MISSING default too (to tell an explicit default beside its
    # alias from none); the fast path puts the declared default back
    defaulted = [p for p in sig.positional[n_required:] + sig.keyword_only
                 if p in aliased and sig.default(p) is not _MISSING]

    def arg(p):
        return f"({p} if {p} is not _aa_missing else _aa_d_{p})" if p in defaulted else p
    call = ", ".join([arg(p) for p in sig.positional] + (["*" + sig.varargs] if sig.varargs else [])
                     + [f"{p}={arg(p)}" for p in sig.keyword_only] + (["**_aa_kw"] if sig.varkw else []))
    values = "".join(p + ", " for p in sig.positional)
    slow = (f"_aa_slow(({values}), {sig.varargs or '()'}, "
            f"{{{', '.join(f'{p!r}: {p}' for p in sig.keyword_only)}}}, _aa_kw)")
    extra = "(_aa_kw and not _aa_keys.isdisjoint(_aa_kw))" if sig.varkw else "_aa_kw"
    test = " or ".join([extra] + [f"{p} is _aa_missing" for p in missing])
    source = (f"def _aa_factory(_aa_fn, _aa_missing, _aa_slow, _aa_keys{''.join(f', _aa_d_{p}' for p in defaulted)}):\n"
              f"    def op({', '.join(params)}):\n"
              f"        if {test}:\n"
              f"            return {slow}\n"
              f"        return _aa_fn({call})\n"
              f"    return op\n")
    factory = _FACTORIES.get(source)
    if factory is None:
        namespace = {}
        exec(compile(source, _BINDING_FILE, "exec"), namespace)
        factory = _FACTORIES[source] = namespace["_aa_factory"]

    def slow(values, varargs, kwonly, extra):
        return _call_renamed(fn, name, aliases, sig, values, varargs, kwonly, extra)
    op = factory(fn, _MISSING, slow, frozenset(aliases), *(sig.default(p) for p in defaulted))
    defaults = tuple(_MISSING if p in defaulted else d
                     for p, d in zip(sig.positional[n_required:], sig.defaults))
    op.__defaults__ = ((_MISSING,) * (n_required - optional_from) + defaults) or None
    op.__kwdefaults__ = {**{p: _MISSING for p in missing if p in sig.keyword_only},
                         **{p: _MISSING if p in defaulted else d for p, d in sig.kwdefaults.items()}} or None
    return op


def _given(sig, param, value):
    """Whether parameter ``param`` came with ``value`` (an aliased parameter not given is MISSING)."""
    return value is not _MISSING


def _call_renamed(fn, name, aliases, sig, values, varargs, kwonly, extra):
    """The renaming path: ``extra`` (the keywords that are no parameter's name) renamed, then fn called."""
    current = dict(zip(sig.positional, values), **kwonly)
    renamed = {}
    for key, value in extra.items():
        param = aliases.get(key)
        if param is None:
            if sig.varkw is None:
                _raise(name, extra)
            renamed[key] = value
        elif param in renamed or _given(sig, param, current[param]):
            _raise(name, extra)
        else:
            renamed[param] = value
    args, keywords, by_keyword = [], {}, False
    for param, value in zip(sig.positional, values):  # positionally up to the first one missing or renamed
        if param in renamed:
            keywords[param], by_keyword = renamed.pop(param), True
        elif value is _MISSING:
            by_keyword = True
        elif by_keyword:
            keywords[param] = value
        else:
            args.append(value)
    for param, value in kwonly.items():
        if param in renamed:
            keywords[param] = renamed.pop(param)
        elif value is not _MISSING:
            keywords[param] = value
    return fn(*args, *varargs, **keywords, **renamed)


def _raise(name, extra):
    """PyTorch's parser names the first keyword, in call order, that is no parameter's own name (an alias
    included, even one it used)."""
    raise TypeError(f"{name}() got an unexpected keyword argument '{next(iter(extra))}'")


# -- the forwarding binding (fn takes *args, **kwargs) ----------------------------------------------------
def _forwarding(fn, name, aliases, sig):
    keys = frozenset(aliases)

    def op(*args, **kwargs):
        if kwargs and not keys.isdisjoint(kwargs):
            kwargs = _canonical(name, aliases, sig, args, kwargs)
        return fn(*args, **kwargs)
    return op


def _canonical(name, aliases, sig, args, kwargs):
    """``kwargs`` of a call with positional ``args`` with each alias replaced by its parameter; PyTorch's
    TypeError when an alias's parameter is given too (by position, by name or by another alias) or a keyword
    is no parameter's."""
    if not kwargs:
        return kwargs
    given = sig.positional[:len(args)]
    renamed = {}
    for key, value in kwargs.items():
        param = aliases.get(key)
        if param is None:
            if key not in sig.names and sig.varkw is None:
                _raise(name, {k: None for k in kwargs if k not in sig.names})
            renamed[key] = value
        elif param in renamed or param in kwargs or param in given:
            _raise(name, {k: None for k in kwargs if k not in sig.names})
        else:
            renamed[param] = value
    return renamed
