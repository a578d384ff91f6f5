"""Array, Value, RawArray and RawValue: multiprocessing.sharedctypes over
ipcd's shared arrays.

The ctypes object is made with from_buffer over ipcd's mapping: reading and
writing it reads and writes ipcd's memory, with no copy and no round trip.
It pickles by the array's name (spawn and forkserver children, or any
process, reopen it).  Array and Value with lock=True (the default) are
guarded by the ipcd array's own lock (ArrayLock), which every process using
the array, C programs included, shares.
"""
import ctypes
import os
import threading
import time

from multiprocessing import sharedctypes as _mpsc
from multiprocessing import get_context

from . import _ipcd
from ._common import anonymous_name, get_socket, remove_when_done

typecode_to_type = _mpsc.typecode_to_type

# ctypes' simple types by their ipcd typecode, where one matches exactly.
_SIGNED = {1: 'b', 2: 'h', 4: 'i', 8: 'q'}
_UNSIGNED = {1: 'B', 2: 'H', 4: 'I', 8: 'Q'}
_FLOAT = {4: 'f', 8: 'd'}


def _storage(type_):
    """ipcd's typecode and element count per object of type_: the type's
    own where ipcd has one, else its bytes ('B')."""
    code = getattr(type_, '_type_', None)
    size = ctypes.sizeof(type_)
    if isinstance(code, str):
        if code in 'zZPO':
            raise TypeError("%s is a pointer: its value means nothing in another process"
                            % type_.__name__)
        if code in 'bhilq' and size in _SIGNED:
            return _SIGNED[size], 1
        if code in 'BHILQ' and size in _UNSIGNED:
            return _UNSIGNED[size], 1
        if code in 'fd' and size in _FLOAT:
            return _FLOAT[size], 1
    return 'B', size


_subtypes = {}


def _shared_type(base):
    """A subclass of the ctypes type base whose objects pickle by ipcd name."""
    t = _subtypes.get(base)
    if t is None:
        t = _subtypes[base] = type(base.__name__, (base,), {'__reduce__': _reduce_shared})
    return t


def _reduce_shared(obj):
    return _rebuild_shared, obj._ipcd_state


def _rebuild_shared(elem_type, count, name, path):
    return _attach(_ipcd.Array(name, path=path), elem_type, count, path)


def _attach(carray, elem_type, count, path):
    """The ctypes object (elem_type, or an array of count of them) over carray."""
    base = elem_type if count is None else elem_type * count
    obj = _shared_type(base).from_buffer(carray)
    obj._ipcd = carray
    obj._ipcd_state = (elem_type, count, carray.name, path)
    return obj


def _open(elem_type, count, name):
    """Create (or with a name, open or create) the ipcd array for count
    objects of elem_type (count None: one value).  (object, created)."""
    tc, per = _storage(elem_type)
    n = (1 if count is None else count) * per
    if n <= 0:
        # ipcd has no empty arrays; a zero-length ctypes array needs one byte.
        tc, n = 'B', 1
    path = get_socket()
    anonymous = name is None
    if anonymous:
        name = anonymous_name("array")
    created = True
    try:
        carray = _ipcd.Array(name, tc, n, create=True, exclusive=True, path=path)
    except FileExistsError:
        if anonymous:
            raise
        created = False
        carray = _ipcd.Array(name, tc, n, path=path)
    if anonymous:
        remove_when_done(carray, "array", name, path)
    return _attach(carray, elem_type, count, path), created


def RawValue(typecode_or_type, *args, name=None):
    """A ctypes object in ipcd's shared memory (name: open or create that
    array; its initial value is set only by the process that creates it)."""
    type_ = typecode_to_type.get(typecode_or_type, typecode_or_type)
    obj, created = _open(type_, None, name)
    if created:
        obj.__init__(*args)
    return obj


def RawArray(typecode_or_type, size_or_initializer, *, name=None):
    """A ctypes array in ipcd's shared memory."""
    type_ = typecode_to_type.get(typecode_or_type, typecode_or_type)
    if isinstance(size_or_initializer, int):
        obj, _ = _open(type_, size_or_initializer, name)
        return obj
    init = size_or_initializer
    obj, created = _open(type_, len(init), name)
    if created:
        obj.__init__(*init)
    return obj


def _lock_for(obj, lock):
    if lock in (True, None):
        return ArrayLock(obj._ipcd, obj._ipcd_state[3])
    if not hasattr(lock, 'acquire'):
        raise AttributeError("%r has no method 'acquire'" % lock)
    return lock


def Value(typecode_or_type, *args, lock=True, name=None, ctx=None):
    """A synchronized ctypes object in ipcd's shared memory."""
    obj = RawValue(typecode_or_type, *args, name=name)
    if lock is False:
        return obj
    return synchronized(obj, _lock_for(obj, lock), ctx)


def Array(typecode_or_type, size_or_initializer, *, lock=True, name=None, ctx=None):
    """A synchronized ctypes array in ipcd's shared memory."""
    obj = RawArray(typecode_or_type, size_or_initializer, name=name)
    if lock is False:
        return obj
    return synchronized(obj, _lock_for(obj, lock), ctx)


def open_array(name, typecode_or_type, size=None):
    """Open the existing ipcd array name as a ctypes array of its length
    (or of size elements), unsynchronized."""
    type_ = typecode_to_type.get(typecode_or_type, typecode_or_type)
    path = get_socket()
    carray = _ipcd.Array(name, path=path)
    if size is None:
        size = carray.length * carray.itemsize // (ctypes.sizeof(type_) or 1)
    return _attach(carray, type_, size, path)


def open_value(name, typecode_or_type):
    """Open the existing ipcd array name as one ctypes value."""
    type_ = typecode_to_type.get(typecode_or_type, typecode_or_type)
    path = get_socket()
    return _attach(_ipcd.Array(name, path=path), type_, None, path)


class ArrayLock(object):
    """A recursive lock, as multiprocessing.RLock, held by ipcd: the lock of
    an ipcd array, shared by every process that opens the array (C programs'
    ipc_array_lock included) and released by ipcd if its holder dies."""

    def __init__(self, carray, path=None):
        self._carray = carray
        self._path = path
        self._setup()

    def _setup(self):
        self._pid = os.getpid()
        self._local = threading.Lock()     # threads of this process take turns
        self._owner = None
        self._count = 0

    def __getstate__(self):
        return (self._carray.name, self._path)

    def __setstate__(self, state):
        name, path = state
        self._carray = _ipcd.Array(name, nomap=True, path=path)
        self._path = path
        self._setup()

    def _fork_check(self):
        if self._pid != os.getpid():
            self._setup()      # the parent's holder is not in this process

    def acquire(self, block=True, timeout=None):
        self._fork_check()
        me = threading.get_ident()
        if self._owner == me:
            self._count += 1
            return True
        if not block:
            timeout = 0
        elif timeout is None or timeout < 0:
            timeout = None
        deadline = None if timeout is None else time.monotonic() + timeout
        if not self._local.acquire(True, -1 if timeout is None else timeout):
            return False
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            got = self._carray.lock(left)
        except BaseException:
            self._local.release()
            raise
        if not got:
            self._local.release()
            return False
        self._owner = me
        self._count = 1
        return True

    def release(self):
        self._fork_check()
        if self._owner != threading.get_ident():
            raise AssertionError("attempt to release recursive lock not owned by thread")
        self._count -= 1
        if self._count == 0:
            self._owner = None
            try:
                self._carray.unlock()
            finally:
                self._local.release()

    __enter__ = acquire

    def __exit__(self, *args):
        self.release()

    def __repr__(self):
        if self._owner is not None and self._pid == os.getpid():
            return "<%s(%s, owner=%s, count=%d)>" % (type(self).__name__, self._carray.name,
                                                     self._owner, self._count)
        return "<%s(%s)>" % (type(self).__name__, self._carray.name)


#
# Synchronized wrappers: multiprocessing's, pickling by name anywhere (they
# hold named ipcd objects) instead of only while spawning.
#

class Synchronized(_mpsc.Synchronized):
    def __reduce__(self):
        return _rebuild_synchronized, (self._obj, self._lock)


class SynchronizedArray(_mpsc.SynchronizedArray):
    def __reduce__(self):
        return _rebuild_synchronized, (self._obj, self._lock)


class SynchronizedString(_mpsc.SynchronizedString):
    def __reduce__(self):
        return _rebuild_synchronized, (self._obj, self._lock)


_class_cache = {}


def _rebuild_synchronized(obj, lock):
    return synchronized(obj, lock)


def synchronized(obj, lock=None, ctx=None):
    """obj wrapped with get_lock() and get_obj(), as multiprocessing does."""
    assert not isinstance(obj, _mpsc.SynchronizedBase), 'object already synchronized'
    ctx = ctx or get_context()
    if isinstance(obj, ctypes._SimpleCData):
        return Synchronized(obj, lock, ctx)
    elif isinstance(obj, ctypes.Array):
        if obj._type_ is ctypes.c_char:
            return SynchronizedString(obj, lock, ctx)
        return SynchronizedArray(obj, lock, ctx)
    cls = type(obj)
    try:
        scls = _class_cache[cls]
    except KeyError:
        names = [field[0] for field in cls._fields_]
        d = {name: _mpsc.make_property(name) for name in names}
        d['__reduce__'] = Synchronized.__reduce__
        scls = _class_cache[cls] = type('Synchronized' + cls.__name__,
                                       (_mpsc.SynchronizedBase,), d)
    return scls(obj, lock, ctx)
