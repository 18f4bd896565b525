"""The DataLoader worker process: fetch the samples of each requested batch and send them back.

Protocol (one index queue per worker, one shared result queue):
  main -> worker: (task_id, indices) for map-style datasets, (task_id, None) for "next batch" of an
                  iterable dataset, _ResumeIteration() at a new epoch (persistent workers), None = exit
  worker -> main: (task_id, batch) or (task_id, ExceptionWrapper) or (task_id, _IterableDatasetStopIteration)
"""
import os
import queue
import random
import sys
import traceback
from dataclasses import dataclass

import numpy as np

__all__ = ["WorkerInfo", "get_worker_info", "ExceptionWrapper"]

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    id: int
    num_workers: int
    seed: int
    dataset: object


def get_worker_info():
    """In a DataLoader worker: its WorkerInfo(id, num_workers, seed, dataset); in the main process: None."""
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, carried to the main process with its formatted traceback."""

    def __init__(self, exc_info, where="in background"):
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self):
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:  # KeyError repr-quotes its message; keep it readable
            msg = KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # the type needs other constructor arguments
            raise RuntimeError(msg) from None
        raise exception


class KeyErrorMessage(str):
    def __repr__(self):
        return self


class _IterableDatasetStopIteration:
    def __init__(self, worker_id):
        self.worker_id = worker_id


class _ResumeIteration:
    pass


def _fetch(dataset, indices, auto_collation, collate_fn, iterable_state):
    if iterable_state is not None:  # iterable dataset: indices is None, draw the next batch from the stream
        it, batch_size, drop_last = iterable_state
        if not auto_collation:
            return collate_fn(next(it))
        batch = []
        for _ in range(batch_size):
            try:
                batch.append(next(it))
            except StopIteration:
                break
        if not batch or (drop_last and len(batch) < batch_size):
            raise StopIteration
        return collate_fn(batch)
    if auto_collation:
        if callable(getattr(dataset, "__getitems__", None)):
            return collate_fn(dataset.__getitems__(indices))
        return collate_fn([dataset[i] for i in indices])
    return collate_fn(dataset[indices])


def _serialize(task_id, data, worker_id):
    """The pickled (task_id, data) for the result queue.

    Pickled here rather than by the queue's feeder thread: there an unpicklable batch would only print
    a traceback and the main process would wait for it forever; here it becomes an error to re-raise.
    """
    from multiprocessing.reduction import ForkingPickler
    try:
        return bytes(ForkingPickler.dumps((task_id, data)))
    except Exception:
        wrapper = ExceptionWrapper(sys.exc_info(), where=f"in DataLoader worker process {worker_id}")
        try:
            return bytes(ForkingPickler.dumps((task_id, wrapper)))
        except Exception:  # the exception type itself cannot be pickled
            wrapper.exc_type = RuntimeError
            return bytes(ForkingPickler.dumps((task_id, wrapper)))


def worker_loop(dataset, index_queue, result_queue, done_event, auto_collation, collate_fn, batch_size, drop_last,
                seed, init_fn, worker_id, num_workers, is_iterable):
    """Body of one worker process (runs until it gets None or the main process goes away)."""
    global _worker_info
    import torsh
    try:
        torsh.set_num_threads(1)  # workers are processes: one thread each, as PyTorch's workers
        random.seed(seed)
        torsh.manual_seed(seed)
        np.random.seed(seed % (2 ** 32))
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
        except Exception:
            init_error = ExceptionWrapper(sys.exc_info(), where=f"in DataLoader worker process {worker_id}")
        iterable_state = (iter(dataset), batch_size, drop_last) if is_iterable and init_error is None else None
        exhausted = False
        parent = os.getppid()
        while True:
            try:
                task = index_queue.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent or done_event.is_set():  # the main process is gone
                    return
                continue
            except (EOFError, OSError):  # the main process closed the queue
                return
            if task is None:
                return
            if isinstance(task, _ResumeIteration):
                exhausted = False
                if is_iterable and init_error is None:
                    iterable_state = (iter(dataset), batch_size, drop_last)
                continue
            task_id, indices = task
            if init_error is not None:
                data = init_error
            elif exhausted:
                data = _IterableDatasetStopIteration(worker_id)
            else:
                try:
                    data = _fetch(dataset, indices, auto_collation, collate_fn, iterable_state)
                except StopIteration:
                    exhausted = True
                    data = _IterableDatasetStopIteration(worker_id)
                except Exception:
                    data = ExceptionWrapper(sys.exc_info(), where=f"in DataLoader worker process {worker_id}")
            result_queue.put(_serialize(task_id, data, worker_id))
            del data
    except KeyboardInterrupt:
        pass
