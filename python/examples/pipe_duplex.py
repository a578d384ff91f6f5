# Doble comunicación: both ends send and receive.
from ipcd import Process, Pipe


def worker(conn):
    print(conn.recv())
    conn.send("Sent from the child process")
    conn.close()


conn1, conn2 = Pipe()
process = Process(target=worker, args=(conn2, ))
process.start()

conn1.send("Sent from the main process")
print(conn1.recv())
process.join()
