"""functional_call: run a module with some parameters/buffers replaced, restoring them afterwards."""
import contextlib

__all__ = ["functional_call"]


def _split(name):
    prefix, _, attr = name.rpartition(".")
    return prefix, attr


@contextlib.contextmanager
def _reparametrize(module, tensors, tie_weights=False, strict=False):
    if strict:
        expected = set(dict(module.named_parameters(remove_duplicate=False))) | set(
            dict(module.named_buffers(remove_duplicate=False)))
        missing = sorted(expected - set(tensors))
        unexpected = sorted(set(tensors) - expected)
        if missing or unexpected:
            raise RuntimeError(f"Error(s) in reparametrizing for {module._get_name()}:\n\t"
                               + (f"Unexpected key(s): {', '.join(map(repr, unexpected))}.\n\t" if unexpected else "")
                               + (f"Missing key(s): {', '.join(map(repr, missing))}." if missing else ""))
    if tie_weights:  # a replaced tensor also replaces every other name of the same original
        originals = dict(module.named_parameters(remove_duplicate=False))
        originals.update(dict(module.named_buffers(remove_duplicate=False)))
        extra = {}
        for name, value in tensors.items():
            if name in originals:
                for other, t in originals.items():
                    if t is originals[name] and other not in tensors:
                        extra[other] = value
        tensors = {**tensors, **extra}
    saved = []
    try:
        for name, value in tensors.items():
            owner = module.get_submodule(_split(name)[0])
            attr = _split(name)[1]
            for store in ("_parameters", "_buffers"):
                d = owner.__dict__[store]
                if attr in d:
                    saved.append((d, attr, d[attr]))
                    d[attr] = value
                    break
            else:
                saved.append((owner.__dict__, attr, owner.__dict__.get(attr, _MISSING)))
                owner.__dict__[attr] = value
        yield
    finally:
        for d, attr, old in reversed(saved):
            if old is _MISSING:
                d.pop(attr, None)
            else:
                d[attr] = old


_MISSING = object()


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    if isinstance(parameter_and_buffer_dicts, (list, tuple)):
        merged = {}
        for d in parameter_and_buffer_dicts:
            clash = set(merged) & set(d)
            if clash:
                raise ValueError(f"{sorted(clash)} appeared in multiple dictionaries; behavior of functional call is "
                                 "ambiguous")
            merged.update(d)
        parameter_and_buffer_dicts = merged
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    with _reparametrize(module, parameter_and_buffer_dicts, tie_weights=tie_weights, strict=strict):
        return module(*args, **kwargs)
