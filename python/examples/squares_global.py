# Comunicación entre procesos: a global list is not shared with the child.
import ipcd as mp
import time
import os

num_res = []


def calc_cuad(numeros):
    global num_res
    for n in numeros:
        print("cuadrado: ", n*n)
        num_res.append(n * n)


nums = range(10)
t = time.time()
p1 = mp.Process(target=calc_cuad, args=(nums, ))
p1.start()
p1.join()

print("Tiempo de ejecución: ", time.time()-t)
print("Resultado operación: ", num_res)
print("Finaliza ejecución")
