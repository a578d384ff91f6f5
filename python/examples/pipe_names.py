# Ejercicio: one process sends names through a pipe, another prints them.
from ipcd import Process, Pipe

nombres = ["Carlos", "Renata", "Rebeca", "Sandra", "END"]


def send_msgs(conn, msgs):
    for msg in msgs:
        conn.send(msg)
    conn.close()


def recv_msgs(conn):
    while 1:
        msg = conn.recv()
        if msg == "END":
            break
        print(msg)


parent_conn, child_conn = Pipe()
p1 = Process(target=send_msgs, args=(parent_conn, nombres))
p2 = Process(target=recv_msgs, args=(child_conn,))
p1.start()
p2.start()
p1.join()
p2.join()
