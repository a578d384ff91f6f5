"""CPython's own multiprocessing tests, run on ipcd.

Lib/test/_test_multiprocessing.py builds its tests from classes and a mixin
of factories.  Here _TestQueue, _TestValue, _TestArray and _TestConnection
are mixed with ProcessesMixin whose Queue, JoinableQueue, Pipe, Value,
Array, RawValue and RawArray are ipcd's, under the fork start method,
against a real ipcd on a temporary socket.

The daemon is started with --max-message 64M: test_connection sends a
16 MiB message through a pipe, and ipcd refuses messages over its
max-message (4 MiB by default) with OSError(EMSGSIZE).

Excluded, each a test of multiprocessing's own internals:
"""
import multiprocessing
import os
import sys
import unittest

try:
    import test._test_multiprocessing as tm
except ImportError as e:     # Debian: package libpython3.X-testsuite
    raise unittest.SkipTest("CPython's test suite is not installed: %s" % e)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import Daemon   # noqa: E402

import ipcd   # noqa: E402

FD_TRANSFER = ("fd transfer: multiprocessing.reduction.send_handle passes a descriptor "
               "over the socket under a Connection (SCM_RIGHTS); an ipcd pipe carries "
               "messages, not descriptors")
EXCLUDED = {
    "_TestConnection": {
        "test_fd_transfer": FD_TRANSFER,
        "test_large_fd_transfer": FD_TRANSFER,
        "test_missing_fd_transfer": FD_TRANSFER,
    },
}
__doc__ += "".join("\n  %s.%s: %s" % (c, t, why)
                   for c, tests in EXCLUDED.items() for t, why in tests.items())


class IpcdMixin(tm.ProcessesMixin):
    Queue = staticmethod(ipcd.Queue)
    JoinableQueue = staticmethod(ipcd.JoinableQueue)
    Pipe = staticmethod(ipcd.Pipe)
    Value = staticmethod(ipcd.Value)
    Array = staticmethod(ipcd.Array)
    RawValue = staticmethod(ipcd.RawValue)
    RawArray = staticmethod(ipcd.RawArray)


def _excluded(reason):
    @unittest.skip("excluded: " + reason)
    def test(self):
        pass
    return test


for _base in (tm._TestQueue, tm._TestValue, tm._TestArray, tm._TestConnection):
    _attrs = {t: _excluded(why) for t, why in EXCLUDED.get(_base.__name__, {}).items()}
    _name = "WithIpcd" + _base.__name__[1:]
    globals()[_name] = type(_name, (_base, IpcdMixin, unittest.TestCase), _attrs)
del _base, _attrs, _name

_daemon = None
_old_method = None


def setUpModule():
    global _daemon, _old_method
    _daemon = Daemon("--max-message", "64M")
    ipcd.set_socket(_daemon.sock)
    multiprocessing.process._cleanup()
    _old_method = multiprocessing.get_start_method(allow_none=True)
    multiprocessing.set_start_method("fork", force=True)


def tearDownModule():
    multiprocessing.set_start_method(_old_method, force=True)
    for p in multiprocessing.active_children():
        p.join(30)
    if _daemon is not None:
        _daemon.stop()


if __name__ == "__main__":
    unittest.main()
