"""Queue, JoinableQueue and SimpleQueue: multiprocessing's queues, each an
ipcd queue.

A put pickles the object at once (multiprocessing pickles it in its feeder
thread, a moment later) and, on a queue without maxsize, hands the bytes to
the object's feeder thread, which sends what accumulated in one round trip,
as multiprocessing's feeder writes to its pipe: put returns at once and the
process's messages stay in order.  A bounded queue's put waits for room in
ipcd, so queue.Full means what it means in multiprocessing.  A get of a
process that keeps getting takes messages ipcd pushed ahead; pushed messages
not taken go back to the queue when the process stops getting for a moment,
closes the queue or exits.
"""
import errno
import os
import threading
import weakref
from queue import Empty, Full

from multiprocessing import util
from multiprocessing.reduction import ForkingPickler

from . import _ipcd
from ._common import anonymous_name, dumps as _dumps, get_socket, remove_when_done

_loads = ForkingPickler.loads
_WOULD_WAIT = (BlockingIOError, TimeoutError)


def _wait_for(block, timeout):
    """multiprocessing's (block, timeout) as a timeout: None waits forever."""
    if not block:
        return 0
    if timeout is None:
        return None
    return max(timeout, 0)


def _flush_at_exit(ref):
    w = ref()
    if w is not None and not w.closed:
        try:
            w.stop_feeder()
        except OSError as e:
            util.info("ipcd: messages put on queue %s were not all sent: %s", w.name, e)


class Queue(object):
    """multiprocessing.Queue in ipcd.  name: the queue to open or create
    (any process may open it by name; without one, a new queue that this
    object's process removes when done with it); ack: every get must be
    acknowledged with task_done, and what a consumer got and did not
    acknowledge goes back to the queue if it dies; durable: kept across a
    restart of ipcd."""

    _ack = False

    def __init__(self, maxsize=0, *, name=None, ack=False, durable=False, ctx=None):
        path = get_socket()
        anonymous = name is None
        if anonymous:
            name = anonymous_name("queue")
        w = _ipcd.Queue(name, create=True, exclusive=anonymous, maxsize=max(maxsize, 0),
                        ack=bool(ack or self._ack), durable=durable, path=path)
        if anonymous:
            remove_when_done(self, "queue", name, path)
        self._setup(w, path)

    def _setup(self, w, path):
        # What the queue is, as ipcd made it (an existing queue keeps its own).
        st = w.stat()
        self._name = w.name
        self._path = path
        self._maxsize = st.get("maxsize", 0)
        self._ackq = bool(st.get("ack", 0))
        self._durable = bool(st.get("durable", 0))
        self._w = w                # puts (and the feeder), sizes
        self._r = None             # gets, made at the first in a process
        self._j = None             # join, which waits
        self._lazy = threading.Lock()
        self._closed = False
        self._fed_pid = None
        self._exit_flush = None

    def __getstate__(self):
        return (self._name, self._path, self._closed)

    def __setstate__(self, state):
        name, path, closed = state
        self._setup(_ipcd.Queue(name, path=path), path)
        self._closed = closed

    def __repr__(self):
        return "<%s.%s name=%r>" % (type(self).__module__, type(self).__qualname__, self._name)

    @property
    def name(self):
        """ipcd's name of the queue: any process may open it with Queue(name=...)."""
        return self._name

    def _reader(self):
        with self._lazy:
            if self._r is None:
                self._r = _ipcd.Queue(self._name, path=self._path)
            return self._r

    def _check_closed(self):
        if self._closed:
            raise ValueError(f"Queue {self!r} is closed")

    def put(self, obj, block=True, timeout=None):
        self._check_closed()
        try:
            data = _dumps(obj)
        except Exception as e:
            # multiprocessing's feeder reports an object it cannot pickle so.
            self._on_queue_feeder_error(e, obj)
            return
        if self._maxsize:
            try:
                self._w.put(data, _wait_for(block, timeout))
            except _WOULD_WAIT:
                raise Full from None
            return
        if self._w.feed(data) and self._fed_pid != os.getpid():
            # The feeder thread started: this process's messages are sent
            # before it exits (after its children were joined), as
            # multiprocessing's feeder does.
            self._fed_pid = os.getpid()
            self._exit_flush = util.Finalize(self._w, _flush_at_exit, (weakref.ref(self._w),),
                                             exitpriority=-5)

    def put_nowait(self, obj):
        return self.put(obj, False)

    def get(self, block=True, timeout=None):
        self._check_closed()
        r = self._r or self._reader()
        if self._fed_pid is not None and self._w.pending():
            self._w.flush()        # this process's puts come before its get
        try:
            data = r.get(_wait_for(block, timeout))
        except _WOULD_WAIT:
            raise Empty from None
        return _loads(data)

    def get_nowait(self):
        return self.get(False)

    def qsize(self):
        """Messages put and not yet got: in the queue, or pushed ahead to a
        consumer and not yet taken (this process's puts are sent first)."""
        self._w.flush()
        st = (self._r or self._w).stat()
        return st["depth"] + st.get("inflight", 0) - st.get("unacked", 0)

    def empty(self):
        return self.qsize() == 0

    def full(self):
        return bool(self._maxsize) and self.qsize() >= self._maxsize

    def close(self):
        """No more puts or gets by this process: what it put is sent, and
        messages pushed ahead to it go back to the queue."""
        if self._closed:
            return
        self._closed = True
        if self._r is not None:
            self._r.release()
        if self._fed_pid == os.getpid():
            self._w.stop_feeder()

    def join_thread(self):
        assert self._closed, "Queue {0!r} not closed".format(self)
        self._w.flush()

    def cancel_join_thread(self):
        """Do not wait, at exit, for this process's messages to be sent."""
        if self._exit_flush is not None:
            self._exit_flush.cancel()
            self._exit_flush = None

    def purge(self):
        """Drop every message in the queue; how many were dropped."""
        return self._w.purge()

    def stat(self):
        """ipcd's stat map of the queue (depth, inflight, puts, gets...)."""
        return self._w.stat()

    @property
    def redelivered(self):
        """On an ack queue: whether the last message got had been got before
        by a consumer that went away without task_done."""
        return self._r is not None and self._r.redelivered

    def task_done(self):
        if not self._ackq:
            raise ValueError("task_done() needs a queue made with ack=True")
        if self._r is None:
            raise ValueError("task_done() called too many times")
        try:
            self._r.task_done()
        except OSError as e:
            if e.errno == errno.EINVAL:
                raise ValueError("task_done() called too many times") from None
            raise

    def join(self):
        if not self._ackq:
            raise ValueError("join() needs a queue made with ack=True")
        self._w.flush()
        with self._lazy:
            if self._j is None:
                self._j = _ipcd.Queue(self._name, path=self._path)
        self._j.join(None)

    @staticmethod
    def _on_queue_feeder_error(e, obj):
        """Called with an object put that could not be pickled; prints the
        traceback, as multiprocessing's feeder does.  Override to handle it."""
        import traceback
        traceback.print_exc()


class JoinableQueue(Queue):
    """multiprocessing.JoinableQueue: an ipcd queue with acknowledgements,
    so join() returns once every message put was got and task_done()."""

    _ack = True

    def __init__(self, maxsize=0, *, name=None, durable=False, ctx=None):
        super().__init__(maxsize, name=name, ack=True, durable=durable)


class SimpleQueue(Queue):
    """multiprocessing.SimpleQueue: put sends at once and get waits."""

    def __init__(self, *, name=None, durable=False, ctx=None):
        super().__init__(0, name=name, durable=durable)

    def put(self, obj):
        self._check_closed()
        self._w.put(_dumps(obj), None)

    def get(self):
        return super().get(True, None)
