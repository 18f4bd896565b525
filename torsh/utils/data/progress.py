"""A progress bar for training loops: ``for batch in progress(loader, desc="epoch 1"): ...``.

Uses tqdm when it is installed (``pip install tqdm``) and otherwise yields the items unchanged, so
a script that calls ``progress`` runs the same everywhere. Example::

    from torsh.utils.data import DataLoader, progress
    for epoch in range(3):
        bar = progress(loader, desc=f"epoch {epoch}")
        for x, y in bar:
            loss = step(x, y)
            bar.set_postfix(loss=f"{loss:.4f}")   # a no-op without tqdm
"""

__all__ = ["progress"]


class _NoBar:
    def __init__(self, iterable):
        self._iterable = iterable

    def __iter__(self):
        return iter(self._iterable)

    def __len__(self):
        return len(self._iterable)

    def set_postfix(self, *args, **kwargs):
        pass

    def set_description(self, *args, **kwargs):
        pass

    def update(self, n=1):
        pass

    def close(self):
        pass


def progress(iterable, desc=None, **tqdm_kwargs):
    """``tqdm(iterable, desc=desc, **tqdm_kwargs)`` if tqdm is importable, else a silent stand-in."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _NoBar(iterable)
    return tqdm(iterable, desc=desc, **tqdm_kwargs)
