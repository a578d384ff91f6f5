# Proceso como objeto: a process defined as a subclass of Process.
import ipcd as multiprocessing


class MyProcess(multiprocessing.Process):
    def __init__(self):
        super(MyProcess, self).__init__()

    def run(self):
        print("Child process PID: {}".format(multiprocessing.current_process().pid))


if __name__ == '__main__':
    print("Main process PID: {}".format(multiprocessing.current_process().pid))
    my_process = MyProcess()
    my_process.start()
    my_process.join()
