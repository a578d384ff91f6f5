"""ipcd's Python module against a real ipcd: what multiprocessing's own
tests do not cover (errors as OSError, zero-copy buffers, objects reopened
by name in spawn children, prefetch given back, acknowledgements)."""
import ctypes
import errno
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import Daemon   # noqa: E402

import ipcd   # noqa: E402
from ipcd import _ipcd   # noqa: E402

_daemon = None


def setUpModule():
    global _daemon
    _daemon = Daemon()
    ipcd.set_socket(_daemon.sock)


def tearDownModule():
    _daemon.stop()


def wait_until(pred, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.01)


def _spawn_child(q, arr, val, conn):
    arr[0] = 99
    val.value = 2.5
    q.put(("from spawn", conn.recv()))


def _get_one(q, out):
    out.put(q.get(timeout=60))


class ErrorsTest(unittest.TestCase):
    def test_missing_object_is_oserror_with_errno(self):
        with self.assertRaises(OSError) as cm:
            _ipcd.Queue("no-such-queue", path=_daemon.sock)
        self.assertEqual(cm.exception.errno, errno.ENOENT)

    def test_no_daemon_is_oserror(self):
        with self.assertRaises(OSError) as cm:
            _ipcd.Queue("q", create=True, path=_daemon.dir + "/absent.sock")
        self.assertIn(cm.exception.errno, (errno.ENOENT, errno.ECONNREFUSED))

    def test_closed_queue_raises_valueerror(self):
        q = ipcd.Queue()
        q.close()
        self.assertRaises(ValueError, q.put, 1)
        self.assertRaises(ValueError, q.get)

    def test_task_done_too_many_times(self):
        q = ipcd.JoinableQueue()
        q.put(1)
        self.assertEqual(q.get(timeout=60), 1)
        q.task_done()
        self.assertRaises(ValueError, q.task_done)

    def test_full_and_empty_with_timeouts(self):
        q = ipcd.Queue(1)
        q.put(1)
        t = time.monotonic()
        self.assertRaises(queue.Full, q.put, 2, True, 0.2)
        self.assertGreaterEqual(time.monotonic() - t, 0.19)
        self.assertEqual(q.get(), 1)
        t = time.monotonic()
        self.assertRaises(queue.Empty, q.get, True, 0.2)
        self.assertGreaterEqual(time.monotonic() - t, 0.19)

    def test_pipe_eof_and_buffer_too_short(self):
        a, b = ipcd.Pipe()
        a.send_bytes(b"0123456789")
        self.assertRaises(ipcd.BufferTooShort, b.recv_bytes_into, bytearray(4))
        a.send(1)
        a.close()
        self.assertEqual(b.recv(), 1)
        self.assertRaises(EOFError, b.recv)


class SharedMemoryTest(unittest.TestCase):
    def test_buffer_is_ipcds_memory(self):
        arr = ipcd.RawArray('i', 8, name="py-test-zero-copy")
        view = _ipcd.Array("py-test-zero-copy", path=_daemon.sock)
        m = memoryview(view)
        self.assertEqual((m.format, m.itemsize, len(m)), ('i', 4, 8))
        arr[3] = 1234
        self.assertEqual(m[3], 1234)                      # another mapping sees it
        ctypes.c_int.from_buffer(view, 4 * 5).value = 77  # ctypes over the mapping
        self.assertEqual(arr[5], 77)
        self.assertEqual(view.stat()["length"], 8)
        try:
            import numpy
        except ImportError:
            return
        a = numpy.frombuffer(view, dtype=numpy.int32)
        a[7] = -5
        self.assertEqual(arr[7], -5)

    def test_typecodes_and_lock_rules(self):
        c = ipcd.Value('c', b'x')
        self.assertEqual(c.value, b'x')
        s = ipcd.Array('c', b'hello')
        self.assertEqual(s.value, b'hello')
        self.assertIsInstance(ipcd.Array('i', 3).get_lock(), ipcd.ArrayLock)
        self.assertFalse(hasattr(ipcd.Array('i', 3, lock=False), 'get_lock'))
        self.assertRaises(AttributeError, ipcd.Value, 'i', 1, lock='no')
        self.assertRaises(TypeError, ipcd.RawValue, ctypes.c_char_p)

    def test_lock_counts_across_processes(self):
        v = ipcd.Value('i', 0)

        def add():
            for _ in range(200):
                with v.get_lock():
                    v.value += 1
        ps = [multiprocessing.get_context("fork").Process(target=add) for _ in range(3)]
        for p in ps:
            p.start()
        add()
        for p in ps:
            p.join()
        self.assertEqual(v.value, 800)

    def test_named_array_opened_again(self):
        a = ipcd.RawArray('d', [1.5, 2.5], name="py-test-named")
        b = ipcd.open_array("py-test-named", 'd')
        self.assertEqual(list(b), [1.5, 2.5])
        b[1] = 9.0
        self.assertEqual(a[1], 9.0)
        ipcd.unlink("array", "py-test-named")


class NamesTest(unittest.TestCase):
    def test_spawn_child_reopens_by_name(self):
        ctx = multiprocessing.get_context("spawn")
        q = ipcd.Queue()
        arr = ipcd.Array('i', 2)
        val = ipcd.Value('d', 0.0)
        a, b = ipcd.Pipe()
        p = ctx.Process(target=_spawn_child, args=(q, arr, val, b))
        p.start()
        a.send("ping")
        self.assertEqual(q.get(timeout=120), ("from spawn", "ping"))
        p.join(120)
        self.assertEqual(p.exitcode, 0)
        self.assertEqual(arr[0], 99)
        self.assertEqual(val.value, 2.5)

    def test_queue_pickles_by_name(self):
        q = ipcd.Queue(name="py-test-pickled")
        q2 = pickle.loads(pickle.dumps(q))
        q.put("x")
        self.assertEqual(q2.get(timeout=60), "x")
        ipcd.unlink("queue", "py-test-pickled")

    def test_anonymous_queue_removed_when_collected(self):
        q = ipcd.Queue()
        name = q.name
        self.assertIn(name, [o["name"] for o in ipcd.list_objects()])
        del q
        self.assertNotIn(name, [o["name"] for o in ipcd.list_objects()])


class BatchingTest(unittest.TestCase):
    def test_prefetched_messages_go_back_when_a_consumer_stops(self):
        q = ipcd.Queue()
        for i in range(10):
            q.put(i)
        self.assertEqual(q.get(timeout=60), 0)   # this process now has some pushed ahead
        self.assertEqual(q.qsize(), 9)           # pushed, not taken, still count
        # Stopped getting: the others return to the queue for another consumer.
        wait_until(lambda: q._w.stat()["inflight"] == 0, "prefetched messages to return")
        out = ipcd.Queue()
        p = multiprocessing.get_context("fork").Process(target=_get_one, args=(q, out))
        p.start()
        self.assertEqual(out.get(timeout=60), 1)
        p.join()

    def test_consumer_killed_between_credits_took_exactly_what_it_got(self):
        # A get counts itself in memory shared with ipcd, with no credit on
        # the socket: after a SIGKILL right after its fifth get, ipcd knows
        # it took five, neither more nor fewer.
        q = ipcd.Queue()
        for i in range(100):
            q.put(i)
        q._w.flush()

        def take_five_and_die():
            for i in range(5):
                if q.get(timeout=60) != i:
                    os._exit(1)
            os.kill(os.getpid(), signal.SIGKILL)
        p = multiprocessing.get_context("fork").Process(target=take_five_and_die)
        p.start()
        p.join()
        self.assertEqual(p.exitcode, -signal.SIGKILL)
        wait_until(lambda: q._w.stat()["consumers"] == 0, "the dead consumer to be gone")
        self.assertEqual(q.qsize(), 95)
        self.assertEqual([q.get(timeout=60) for _ in range(95)], list(range(5, 100)))
        self.assertEqual(q.qsize(), 0)

    def test_puts_of_a_child_are_sent_before_it_exits(self):
        q = ipcd.Queue()

        def child():
            for i in range(1000):
                q.put(i)
        p = multiprocessing.get_context("fork").Process(target=child)
        p.start()
        p.join()
        self.assertEqual(q.qsize(), 1000)
        self.assertEqual([q.get(timeout=60) for _ in range(1000)], list(range(1000)))

    def test_ack_queue_redelivers_what_a_dead_consumer_held(self):
        q = ipcd.Queue(ack=True)
        q.put("job")

        def take_and_die():
            q.get(timeout=60)
            os._exit(0)
        p = multiprocessing.get_context("fork").Process(target=take_and_die)
        p.start()
        p.join()
        self.assertEqual(q.get(timeout=60), "job")
        self.assertTrue(q.redelivered)
        q.task_done()


if __name__ == "__main__":
    unittest.main()
