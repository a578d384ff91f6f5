# Colas: the child puts the squares; once it has ended, the parent drains them.
import ipcd as multiprocessing


def calc_cuad(numeros, q):
    for n in numeros:
        q.put(n * n)


if __name__ == "__main__":
    nums = range(10)
    q = multiprocessing.Queue()
    p = multiprocessing.Process(target=calc_cuad, args=(nums, q))
    p.start()
    p.join()
    while q.empty() is False:
        print(q.get())
