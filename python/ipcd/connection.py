"""Pipe and Connection: multiprocessing's pipes, each an ipcd pipe.

A Connection is one end, on a connection to ipcd of its own.  It pickles by
the pipe's name and end, so a child made by spawn or forkserver (or any
process) reopens it; the end belongs to the first process that sends or
receives on it, and when that process closes it or exits, the other end
reads what is left and then EOFError.
"""
import errno

from multiprocessing import BufferTooShort
from multiprocessing.reduction import ForkingPickler

from . import _ipcd
from ._common import dumps as _dumps, get_socket

_loads = ForkingPickler.loads
_WOULD_WAIT = (BlockingIOError, TimeoutError)


class Connection(object):
    """multiprocessing.connection.Connection over one end of an ipcd pipe."""

    def __init__(self, end, readable=True, writable=True):
        if not readable and not writable:
            raise ValueError("at least one of `readable` and `writable` must be True")
        self._end = end
        self._readable = readable
        self._writable = writable
        self._name = end.name
        self._number = end.end
        self._path = get_socket()
        self._ahead = None        # a message poll() received, for the next recv
        self._eof = False

    def __getstate__(self):
        self._check_closed()
        return (self._name, self._number, self._readable, self._writable, self._path)

    def __setstate__(self, state):
        name, number, readable, writable, path = state
        self.__init__(_ipcd.PipeEnd(name, number, path=path), readable, writable)
        self._path = path

    def __repr__(self):
        return "<%s.%s pipe=%r end=%d>" % (type(self).__module__, type(self).__qualname__,
                                           self._name, self._number)

    def _check_closed(self):
        if self._end is None:
            raise OSError("handle is closed")

    def _check_readable(self):
        if not self._readable:
            raise OSError("connection is write-only")

    def _check_writable(self):
        if not self._writable:
            raise OSError("connection is read-only")

    @property
    def closed(self):
        """True if the connection is closed"""
        return self._end is None

    @property
    def readable(self):
        """True if the connection is readable"""
        return self._readable

    @property
    def writable(self):
        """True if the connection is writable"""
        return self._writable

    @property
    def name(self):
        """ipcd's name of the pipe (with the end, what open_pipe takes)."""
        return self._name

    def fileno(self):
        """The descriptor of this end's connection to ipcd.  It names the
        end; messages are not read from it (use poll, not select)."""
        self._check_closed()
        return self._end.fileno()

    def close(self):
        """Close the connection: the other end then reads what is left and
        EOFError."""
        if self._end is not None:
            try:
                self._end.close()
            finally:
                self._end = None

    def send_bytes(self, buf, offset=0, size=None):
        """Send the bytes data from a bytes-like object"""
        self._check_closed()
        self._check_writable()
        m = memoryview(buf)
        if m.itemsize > 1:
            m = m.cast('B')
        n = m.nbytes
        if offset < 0:
            raise ValueError("offset is negative")
        if n < offset:
            raise ValueError("buffer length < offset")
        if size is None:
            size = n - offset
        elif size < 0:
            raise ValueError("size is negative")
        elif offset + size > n:
            raise ValueError("buffer length < offset + size")
        self._send(m[offset:offset + size])

    def send(self, obj):
        """Send a (picklable) object"""
        self._check_closed()
        self._check_writable()
        self._send(_dumps(obj))

    def _send(self, data):
        try:
            self._end.send(data, None)
        except BrokenPipeError:
            raise BrokenPipeError(errno.EPIPE, "the other end of the pipe is closed") from None

    def _recv(self, timeout=None):
        """The next message, or None when none came within timeout; EOFError
        once the other end closed and nothing is left."""
        if self._ahead is not None:
            data, self._ahead = self._ahead, None
            return data
        if self._eof:
            raise EOFError
        try:
            return self._end.recv(timeout)
        except _WOULD_WAIT:
            return None
        except BrokenPipeError:
            self._eof = True
            raise EOFError from None

    def recv_bytes(self, maxlength=None):
        """Receive bytes data as a bytes object."""
        self._check_closed()
        self._check_readable()
        if maxlength is not None and maxlength < 0:
            raise ValueError("negative maxlength")
        data = self._recv()
        if maxlength is not None and len(data) > maxlength:
            self.close()
            raise OSError("bad message length")
        return data

    def recv_bytes_into(self, buf, offset=0):
        """Receive bytes data into a writeable bytes-like object.
        Return the number of bytes read."""
        self._check_closed()
        self._check_readable()
        with memoryview(buf) as m:
            itemsize = m.itemsize
            bytesize = itemsize * len(m)
            if offset < 0:
                raise ValueError("negative offset")
            elif offset > bytesize:
                raise ValueError("offset too large")
            data = self._recv()
            size = len(data)
            if bytesize - offset < size:
                raise BufferTooShort(data)
            m.cast('B')[offset:offset + size] = data
            return size

    def recv(self):
        """Receive a (picklable) object"""
        self._check_closed()
        self._check_readable()
        return _loads(self._recv())

    def poll(self, timeout=0.0):
        """Whether there is any input available to be read"""
        self._check_closed()
        self._check_readable()
        if self._ahead is not None or self._eof:
            return True
        try:
            self._ahead = self._recv(0 if timeout is not None and timeout < 0 else timeout)
        except EOFError:
            return True
        return self._ahead is not None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, exc_tb):
        self.close()


def Pipe(duplex=True):
    """Returns pair of connection objects at either end of a pipe: an ipcd
    pipe, named by ipcd so that a child reopens its end."""
    e0, e1 = _ipcd.PipeEnd.pair(oneway=not duplex, path=get_socket())
    if duplex:
        return Connection(e0), Connection(e1)
    # multiprocessing's (reader, writer): ipcd's end 0 receives, end 1 sends.
    return Connection(e0, writable=False), Connection(e1, readable=False)


def open_pipe(name, end, *, create=False, oneway=False):
    """End 0 or 1 of ipcd's pipe name, as a Connection (create: make the
    pipe if it does not exist; oneway: end 0 only receives, end 1 only sends)."""
    e = _ipcd.PipeEnd(name, end, create=create, oneway=oneway, path=get_socket())
    if oneway:
        return Connection(e, readable=end == 0, writable=end == 1)
    return Connection(e)
