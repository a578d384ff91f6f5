# Pipes: the child sends a list to its parent.
from ipcd import Process, Pipe


def f(conn):
    conn.send(["hello world"])
    conn.close()


if __name__ == "__main__":
    parent_conn, child_conn = Pipe()
    p = Process(target=f, args=(child_conn, ))
    p.start()
    print(parent_conn.recv())
    p.join()
