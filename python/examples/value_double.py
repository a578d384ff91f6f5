# Memoria compartida: a Value beside the Array.
import ipcd as mp
import time
import os


def calc_cuad(numeros, result, val):
    val.value = 5.35
    for idx, n in enumerate(numeros):
        result[idx] = n*n
    print("Resultado del proceso: ", result[:])


nums = range(10)
t = time.time()
result = mp.Array('i', 10)
val = mp.Value('d', 0.0)
p1 = mp.Process(target=calc_cuad, args=(nums, result, val))

p1.start()
p1.join()

print("Resultado fuera del proceso", result[:])
print("Resultado fuera del proceso", val.value)
print("Tiempo de ejecución: ", time.time() - t)
print("Finaliza la ejecución")
