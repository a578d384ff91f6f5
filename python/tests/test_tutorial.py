"""The tutorial's programs (python/examples/, multiprocessing's with only the
import changed to ipcd) run against a real ipcd, their output checked line
by line; PIDs and times are matched as numbers."""
import os
import re
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from daemon import Daemon   # noqa: E402

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")
NUM = r"[0-9]+(\.[0-9]+(e-?[0-9]+)?)?"
SQUARES = "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"

# Each line a regular expression (re.escape'd unless it contains NUM).
EXPECTED = {
    "process_object": ["Main process PID: " + NUM, "Child process PID: " + NUM],
    "squares_global": ["cuadrado:  %d" % (n * n) for n in range(10)] +
                      ["Tiempo de ejecución:  " + NUM, "Resultado operación:  []",
                       "Finaliza ejecución"],
    "array_squares": ["Resultado del proceso:  " + SQUARES,
                      "Resultado fuera del proceso " + SQUARES,
                      "Tiempo de ejecución:  " + NUM, "Finaliza la ejecución"],
    "value_double": ["Resultado del proceso:  " + SQUARES,
                     "Resultado fuera del proceso " + SQUARES,
                     "Resultado fuera del proceso 5.35",
                     "Tiempo de ejecución:  " + NUM, "Finaliza la ejecución"],
    "pipe_hello": ["['hello world']"],
    "pipe_duplex": ["Sent from the main process", "Sent from the child process"],
    "pipe_names": ["Carlos", "Renata", "Rebeca", "Sandra"],
    "queue_hello": ["[42, None, 'hello']"],
    "queue_squares": [str(n * n) for n in range(10)],
}


def pattern(line):
    if NUM in line:
        head, *rest = line.split(NUM)
        return re.escape(head) + "".join(NUM + re.escape(r) for r in rest)
    return re.escape(line)


class TutorialTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()

    def run_example(self, name):
        env = dict(os.environ, IPCD_SOCKET=self.daemon.sock)
        r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name + ".py")],
                           env=env, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        lines = r.stdout.splitlines()
        expected = EXPECTED[name]
        self.assertEqual(len(lines), len(expected), r.stdout)
        for got, want in zip(lines, expected):
            self.assertRegex(got, "^" + pattern(want) + "$")
        return lines

    def test_every_example_is_checked(self):
        names = sorted(f[:-3] for f in os.listdir(EXAMPLES) if f.endswith(".py"))
        self.assertEqual(names, sorted(EXPECTED))

    def test_process_object(self):
        lines = self.run_example("process_object")
        self.assertNotEqual(lines[0].split()[-1], lines[1].split()[-1])

    def test_squares_global(self):
        self.run_example("squares_global")

    def test_array_squares(self):
        self.run_example("array_squares")

    def test_value_double(self):
        self.run_example("value_double")

    def test_pipe_hello(self):
        self.run_example("pipe_hello")

    def test_pipe_duplex(self):
        self.run_example("pipe_duplex")

    def test_pipe_names(self):
        self.run_example("pipe_names")

    def test_queue_hello(self):
        self.run_example("queue_hello")

    def test_queue_squares(self):
        self.run_example("queue_squares")


if __name__ == "__main__":
    unittest.main()
