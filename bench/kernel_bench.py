#!/usr/bin/env python3
"""The Jupyter kernel's speed against IPython's, measured the same way in one run (issue 19):

* start: from spawning the kernel process to its kernel_info_reply (a client socket retrying its
  connection every 2 ms), and the same through jupyter_client's KernelManager.start_kernel (whose
  sockets retry every 100 ms, and which writes the connection file and starts the process itself),
  median of REPEATS fresh kernels each;
* round trip: an execute_request of `1 + 1` until the kernel's `idle` status for it, median of
  300 after 30 warm-up cells;
* a Grad-CAM cell on the default model (load EfficientNet-Lite0, load and preprocess the tabby,
  gradcam) in a fresh CAMScript kernel, execute_request to idle, against `camscript run` of the same
  lines as a file (the whole process), median of REPEATS each.

Usage: python3 bench/kernel_bench.py PATH/TO/camscript [REPEATS=5]
(a Python with jupyter_client and ipykernel; the CAMScript kernelspec is installed into a temporary
JUPYTER_DATA_DIR, IPython's is the running Python's own.)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

from jupyter_client import KernelManager

CAMSCRIPT = os.path.abspath(sys.argv[1])
REPEATS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = tempfile.mkdtemp(prefix='camscript-kernel-bench-')
os.environ['JUPYTER_DATA_DIR'] = DATA
subprocess.run([CAMSCRIPT, 'kernel', 'install', '--user'], check=True, capture_output=True)
CELL = ('model = load "efficientnet_lite0"\n'
        f'img = load "{ROOT}/examples/images/chelsea.png"\n'
        'x = preprocess img model\n'
        'c = gradcam model x\n')


def start(name):
    """A started kernel and its client, and the seconds to its kernel_info_reply."""
    km = KernelManager(kernel_name=name)
    began = time.perf_counter()
    km.start_kernel(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kc = km.client()
    kc.start_channels()
    kc.kernel_info()
    while True:
        msg = kc.get_shell_msg(timeout=60)
        if msg['msg_type'] == 'kernel_info_reply':
            break
    seconds = time.perf_counter() - began
    # Not timed: until iopub's subscription is through (a PUB socket drops what it sends before),
    # as jupyter_client's own wait_for_ready does; then what arrived so far is dropped.
    kc.wait_for_ready(timeout=60)
    while True:
        try:
            kc.get_iopub_msg(timeout=0.2)
        except Exception:
            break
    return km, kc, seconds


def spawn_to_reply(argv):
    """Seconds from spawning a kernel process to its kernel_info_reply, asked on a DEALER socket
    that retries its connection every 2 ms (jupyter_client's sockets retry every 100 ms, which
    would round every start up to a multiple of 100 ms)."""
    import zmq
    from jupyter_client.connect import write_connection_file
    from jupyter_client.session import Session
    path, info = write_connection_file(os.path.join(DATA, 'spawn.json'), ip='127.0.0.1', key=b'bench-key')
    session = Session(key=b'bench-key')
    context = zmq.Context.instance()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.RECONNECT_IVL, 2)
    socket.setsockopt(zmq.LINGER, 0)
    began = time.perf_counter()
    process = subprocess.Popen(argv + ['-f', path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket.connect(f'tcp://127.0.0.1:{info["shell_port"]}')
    session.send(socket, 'kernel_info_request', {})
    socket.poll(60_000)
    session.recv(socket)
    seconds = time.perf_counter() - began
    process.kill()
    process.wait()
    socket.close()
    return seconds


def until_idle(kc, code):
    """Seconds from sending `code` to the idle status of its request."""
    began = time.perf_counter()
    msg_id = kc.execute(code)
    while True:
        msg = kc.get_iopub_msg(timeout=600)
        if msg['parent_header'].get('msg_id') == msg_id and msg['msg_type'] == 'status' \
                and msg['content']['execution_state'] == 'idle':
            elapsed = time.perf_counter() - began
            break
    reply = kc.get_shell_msg(timeout=60)['content']
    if reply['status'] != 'ok':
        raise RuntimeError(f'the cell failed: {reply}')
    return elapsed


def stop(km, kc):
    kc.stop_channels()
    km.shutdown_kernel(now=False)


def kernel_figures(name, argv):
    starts, spawns = [], []
    for _ in range(REPEATS):
        km, kc, seconds = start(name)
        starts.append(seconds)
        stop(km, kc)
        spawns.append(spawn_to_reply(argv))
    km, kc, _ = start(name)
    for _ in range(30):
        until_idle(kc, '1 + 1')
    trips = [until_idle(kc, '1 + 1') for _ in range(300)]
    stop(km, kc)
    return statistics.median(spawns), statistics.median(trips), statistics.median(starts)


def gradcam_figures():
    cells = []
    for _ in range(REPEATS):
        km, kc, _ = start('camscript')
        cells.append(until_idle(kc, CELL))
        stop(km, kc)
    script = os.path.join(DATA, 'cell.cam')
    with open(script, 'w') as f:
        f.write(CELL)
    runs = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        subprocess.run([CAMSCRIPT, 'run', script], check=True, capture_output=True)
        runs.append(time.perf_counter() - began)
    return statistics.median(cells), statistics.median(runs)


def main():
    ours = kernel_figures('camscript', [CAMSCRIPT, 'kernel'])
    ipython = kernel_figures('python3', [sys.executable, '-m', 'ipykernel_launcher'])
    cell, run = gradcam_figures()
    print(f'{"":34} {"CAMScript":>10} {"IPython":>10} {"ratio":>7}  goal')
    print(f'{"start to kernel_info_reply (ms)":34} {ours[0] * 1e3:10.1f} {ipython[0] * 1e3:10.1f} '
          f'{ours[0] / ipython[0]:7.2f}  <= 100 ms')
    print(f'{"  through KernelManager (ms)":34} {ours[2] * 1e3:10.1f} {ipython[2] * 1e3:10.1f} '
          f'{ours[2] / ipython[2]:7.2f}')
    print(f'{"1 + 1, execute to idle (ms)":34} {ours[1] * 1e3:10.2f} {ipython[1] * 1e3:10.2f} '
          f'{ours[1] / ipython[1]:7.2f}  <= 5 ms')
    print(f'{"Grad-CAM cell (s), kernel / run":34} {cell:10.3f} {run:10.3f} {cell / run:7.2f}  <= 1.10x camscript run')


if __name__ == '__main__':
    main()
