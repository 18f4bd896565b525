"""torch.utils.data's DataPipe surface (IterDataPipe, MapDataPipe, DataChunk and their decorators).

DataPipes are deprecated in PyTorch; torsh keeps the public classes so code that subclasses them or
registers functional forms (``@functional_datapipe("name")``) runs: ``dp.name(...)`` builds the registered
DataPipe class around ``dp``.
"""
import functools

from .dataset import Dataset, IterableDataset


def _functional_form(functions, datapipe, attribute_name):
    """``datapipe.<attribute_name>``: the functional form registered under that name, bound to ``datapipe``."""
    if attribute_name in functions:
        return functools.partial(functions[attribute_name], datapipe)
    raise AttributeError(f"'{datapipe.__class__.__name__}' object has no attribute '{attribute_name}")


class _DataPipe:
    """What both DataPipe kinds share: the registry of functional forms (each kind's ``functions``)
    and printing as the class's qualified name."""

    @classmethod
    def register_function(cls, function_name, function):
        cls.functions[function_name] = function

    @classmethod
    def register_datapipe_as_function(cls, function_name, cls_to_register):
        if function_name in cls.functions:
            raise Exception(f"Unable to add DataPipe function name {function_name} as it is already taken")  # noqa: TRY002
        cls.functions[function_name] = lambda source_dp, *args, **kwargs: cls_to_register(source_dp, *args, **kwargs)

    def __repr__(self):
        return str(self.__class__.__qualname__)

    def __str__(self):
        return str(self.__class__.__qualname__)


class IterDataPipe(_DataPipe, IterableDataset):
    """An iterable DataPipe; functional forms registered with ``functional_datapipe`` become methods."""

    functions = {}

    def __getattr__(self, attribute_name):
        return _functional_form(IterDataPipe.functions, self, attribute_name)

    @classmethod
    def register_datapipe_as_function(cls, function_name, cls_to_register, enable_df_api_tracing=False):
        super().register_datapipe_as_function(function_name, cls_to_register)

    def reset(self):
        """Called at the start of each iteration (no state to reset by default)."""


class DFIterDataPipe(IterDataPipe):
    def _is_dfpipe(self):
        return True


class MapDataPipe(_DataPipe, Dataset):
    """A map-style DataPipe; functional forms registered with ``functional_datapipe`` become methods."""

    functions = {}

    def __getattr__(self, attribute_name):
        return _functional_form(MapDataPipe.functions, self, attribute_name)


class DataChunk(list):
    """A batch of items that prints (``as_str``) and iterates as its items."""

    def __init__(self, items):
        items = list(items)
        super().__init__(items)
        self.items = items

    def as_str(self, indent=""):
        return indent + "[" + ", ".join(str(i) for i in iter(self)) + "]"

    def __iter__(self):
        yield from super().__iter__()

    def raw_iterator(self):
        yield from self.items


class functional_datapipe:
    """``@functional_datapipe("name")`` on a DataPipe class makes ``source.name(*args)`` build it."""

    def __init__(self, name, enable_df_api_tracing=False):
        self.name = name
        self.enable_df_api_tracing = enable_df_api_tracing

    def __call__(self, cls):
        if issubclass(cls, IterDataPipe):
            IterDataPipe.register_datapipe_as_function(self.name, cls, self.enable_df_api_tracing)
        elif issubclass(cls, MapDataPipe):
            MapDataPipe.register_datapipe_as_function(self.name, cls)
        return cls


_determinism = False
_runtime_validation_enabled = True


class _SetGlobal:
    """Sets the module global ``_name`` to ``_value`` when built; ``with`` restores it on exit."""
    _name = _value = None

    def __init__(self):
        self.prev = globals()[self._name]
        globals()[self._name] = self._value

    def __enter__(self):
        pass

    def __exit__(self, exc_type, exc_value, traceback):
        globals()[self._name] = self.prev


class guaranteed_datapipes_determinism(_SetGlobal):
    """Inside it, building a DataPipe class marked ``non_deterministic`` raises TypeError."""
    _name, _value = "_determinism", True


class non_deterministic:
    """Mark a DataPipe class (or, given a function of the arguments, some of its instances) non-deterministic."""

    cls = None
    deterministic_fn = None

    def __init__(self, arg):
        if isinstance(arg, type):
            if not issubclass(arg, IterDataPipe):
                raise TypeError(f"Only `IterDataPipe` can be decorated with `non_deterministic`, but {arg.__name__} "
                                "is found")
            self.cls = arg
        elif callable(arg):
            self.deterministic_fn = arg
        else:
            raise TypeError(f"{arg} can not be decorated by non_deterministic")

    def __call__(self, *args, **kwargs):
        if self.cls is not None:
            if _determinism:
                raise TypeError(f"{self.cls.__name__} is non-deterministic, but you set "
                                "'guaranteed_datapipes_determinism'. You can turn off determinism for this DataPipe "
                                "if that is acceptable for your application")
            return self.cls(*args, **kwargs)
        if not (isinstance(args[0], type) and issubclass(args[0], IterDataPipe)):
            raise TypeError(f"Only `IterDataPipe` can be decorated, but {args[0].__name__} is found")
        self.cls = args[0]
        return self.deterministic_wrapper_fn

    def deterministic_wrapper_fn(self, *args, **kwargs):
        res = self.deterministic_fn(*args, **kwargs)
        if not isinstance(res, bool):
            raise TypeError("deterministic_fn of `non_deterministic` decorator is required to return a boolean "
                            f"value, but {type(res)} is found")
        if _determinism and res:
            raise TypeError(f"{self.cls.__name__} is non-deterministic with the inputs, but you set "
                            "'guaranteed_datapipes_determinism'. You can turn off determinism for this DataPipe "
                            "if that is acceptable for your application")
        return self.cls(*args, **kwargs)


def argument_validation(f):
    """Kept for PyTorch code; torsh does not check DataPipe argument type hints."""
    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        return f(*args, **kwargs)
    return wrapper


class runtime_validation_disabled(_SetGlobal):
    _name, _value = "_runtime_validation_enabled", False


def runtime_validation(f):
    """Decorates a DataPipe's ``__iter__`` (only that; PyTorch's error otherwise); types are not checked."""
    if f.__name__ != "__iter__":
        raise TypeError(f"Can not decorate function {f.__name__} with 'runtime_validation'")

    @functools.wraps(f)
    def wrapper(self):
        yield from f(self)
    return wrapper
