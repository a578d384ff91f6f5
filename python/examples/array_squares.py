# Memoria compartida: the child writes its results into a shared Array.
import ipcd as mp
import time
import os


def calc_cuad(numeros, result):
    for idx, n in enumerate(numeros):
        result[idx] = n*n
    print("Resultado del proceso: ", result[:])


nums = range(10)
t = time.time()
result = mp.Array('i', 10)
p1 = mp.Process(target=calc_cuad, args=(nums, result))

p1.start()
p1.join()

print("Resultado fuera del proceso", result[:])
print("Tiempo de ejecución: ", time.time() - t)
print("Finaliza la ejecución")
