"""A real ipcd on a socket in a temporary directory, for the tests: started
from $IPCD_BIN (the daemon built with the tests), stopped and removed by
stop().  Tests wait for states (the socket answering), never for time."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time


class Daemon(object):
    def __init__(self, *args):
        self.bin = os.environ.get("IPCD_BIN") or shutil.which("ipcd")
        if not self.bin:
            raise RuntimeError("set IPCD_BIN to the ipcd to test")
        self.dir = tempfile.mkdtemp(prefix="ipcd-py-")
        self.sock = os.path.join(self.dir, "ipcd.sock")
        self.log = open(os.path.join(self.dir, "ipcd.log"), "w+")
        self.proc = subprocess.Popen([self.bin, "-s", self.sock, "-c", "/dev/null", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 30
        while not self._answers():
            if self.proc.poll() is not None:
                raise RuntimeError("ipcd exited with %s: %s" % (self.proc.returncode,
                                                               self.log_text()))
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("ipcd did not answer on %s within 30 s" % self.sock)
            time.sleep(0.01)

    def _answers(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(self.sock)
            return True
        except OSError:
            return False
        finally:
            s.close()

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
