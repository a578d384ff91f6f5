"""ipcd for Python: multiprocessing's Queue, JoinableQueue, SimpleQueue,
Pipe, Array and Value, served by ipcd.

    import ipcd as mp

runs a multiprocessing program with its queues, pipes and shared memory in
ipcd: objects any process on the host can open by name, queues that keep
their messages across a restart (durable=True) or until acknowledged
(ack=True), and ipcctl's view of all of it.  Process, current_process and the
rest of multiprocessing are multiprocessing's own.
"""
from multiprocessing import (Process, current_process, parent_process, active_children,
                             cpu_count, get_context, get_start_method, set_start_method,
                             Lock, RLock, Semaphore, BoundedSemaphore, Condition, Event,
                             Barrier, Pool, Manager, freeze_support, ProcessError,
                             BufferTooShort, TimeoutError, AuthenticationError)

from ._common import set_socket, get_socket
from .queues import Queue, JoinableQueue, SimpleQueue
from .connection import Pipe, Connection, open_pipe
from .sharedctypes import (Array, Value, RawArray, RawValue, ArrayLock, open_array,
                           open_value)
from . import _ipcd


def unlink(kind, name):
    """Remove ipcd's object name, a "queue", "pipe" or "array"."""
    _ipcd.unlink(kind, name, get_socket())


def status():
    """ipcd's status map, as ipcctl status shows it."""
    return _ipcd.status(get_socket())


def list_objects():
    """A stat map for each object ipcd holds, as ipcctl ls shows them."""
    return _ipcd.list(get_socket())


def clients():
    """A map for each client connected to ipcd, as ipcctl clients shows them."""
    return _ipcd.clients(get_socket())


__all__ = ["Queue", "JoinableQueue", "SimpleQueue", "Pipe", "Connection", "Array", "Value",
           "RawArray", "RawValue", "ArrayLock", "open_pipe", "open_array", "open_value",
           "Process", "current_process", "parent_process", "active_children", "cpu_count",
           "get_context", "get_start_method", "set_start_method", "Lock", "RLock",
           "Semaphore", "BoundedSemaphore", "Condition", "Event", "Barrier", "Pool",
           "Manager", "freeze_support", "ProcessError", "BufferTooShort", "TimeoutError",
           "AuthenticationError", "set_socket", "get_socket", "unlink", "status",
           "list_objects", "clients"]
