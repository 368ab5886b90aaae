#!/usr/bin/env python3
"""JupyterLab runs a CAMScript notebook and shows the heat map inline (issue 19): JupyterLab is
started headless on 127.0.0.1 with the CAMScript kernelspec, headless Chromium opens a notebook
through the DevTools protocol (over tornado's WebSocket client, which JupyterLab brings), runs all
cells with JupyterLab's own `notebook:run-all-cells` command, waits for the kernel to be idle and
the picture to be in the page, and takes a screenshot. The check: the screenshot holds the JET
colours of the overlay (saturated reds and blues, which JupyterLab's own interface does not use
in quantity) and the output's text.

Usage: python3 Tests/kernel/check_jupyterlab.py PATH/TO/camscript EXAMPLES_FOLDER SCREENSHOT.png
(exit code = failures; one line per check).
"""
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from tornado.websocket import websocket_connect

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from png_pixels import pixels  # noqa: E402

CAMSCRIPT = os.path.abspath(sys.argv[1])
EXAMPLES = os.path.abspath(sys.argv[2])
SCREENSHOT = os.path.abspath(sys.argv[3])
ROOT = tempfile.mkdtemp(prefix='camscript-lab-')
os.environ['JUPYTER_DATA_DIR'] = os.path.join(ROOT, 'data')
subprocess.run([CAMSCRIPT, 'kernel', 'install', '--user'], check=True, capture_output=True)
failures = []


def check(name, condition, why=''):
    print(('ok ' if condition else 'FAIL ') + name + ('' if condition else ': ' + str(why)), flush=True)
    if not condition:
        failures.append(name)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


CELLS = [
    'model = load "efficientnet_lite0"\n'
    f'img = load "{EXAMPLES}/images/chelsea.png"\n'
    'x = preprocess img model',
    'c = gradcam model x target="tabby"\n'
    'print "explained:" c.label\n'
    'overlay c img',
]
notebook = {
    'nbformat': 4, 'nbformat_minor': 5,
    'metadata': {'kernelspec': {'name': 'camscript', 'display_name': 'CAMScript', 'language': 'camscript'}},
    'cells': [{'cell_type': 'code', 'id': f'c{i}', 'metadata': {}, 'execution_count': None, 'outputs': [],
               'source': source} for i, source in enumerate(CELLS)],
}
with open(os.path.join(ROOT, 'heatmap.ipynb'), 'w') as f:
    json.dump(notebook, f)

lab_port, debug_port = free_port(), free_port()
lab = subprocess.Popen([sys.executable, '-m', 'jupyterlab', '--no-browser', '--ip=127.0.0.1', f'--port={lab_port}',
                        '--ServerApp.token=', '--ServerApp.password=', '--ServerApp.disable_check_xsrf=True',
                        '--LabApp.expose_app_in_browser=True', f'--ServerApp.root_dir={ROOT}',
                        '--ServerApp.open_browser=False', '--allow-root'],
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(ROOT, 'lab.log'), 'w'))
chromium = None
try:
    deadline = time.time() + 90
    while time.time() < deadline and lab.poll() is None:
        try:
            urllib.request.urlopen(f'http://127.0.0.1:{lab_port}/api/status', timeout=2)
            break
        except Exception:
            time.sleep(0.5)
    check('JupyterLab listens', time.time() < deadline and lab.poll() is None,
          open(os.path.join(ROOT, 'lab.log')).read()[-1500:])
    if failures:
        raise SystemExit(1)
    browser = shutil.which('chromium') or shutil.which('chromium-browser')
    chromium = subprocess.Popen([browser, '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars',
                                 '--no-first-run', '--disable-extensions', f'--remote-debugging-port={debug_port}',
                                 f'--user-data-dir={os.path.join(ROOT, "chromium")}', '--window-size=1200,1400',
                                 f'http://127.0.0.1:{lab_port}/lab/tree/heatmap.ipynb'],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    page = None
    while time.time() < deadline and page is None:
        try:
            targets = json.load(urllib.request.urlopen(f'http://127.0.0.1:{debug_port}/json', timeout=2))
            page = next((t for t in targets if t['type'] == 'page'), None)
        except Exception:
            time.sleep(0.5)
    check('Chromium opened the page', page is not None)

    async def drive():
        connection = await websocket_connect(page['webSocketDebuggerUrl'], max_message_size=1 << 28)
        counter = [0]

        async def call(method, **params):
            counter[0] += 1
            connection.write_message(json.dumps({'id': counter[0], 'method': method, 'params': params}))
            while True:
                reply = json.loads(await connection.read_message())
                if reply.get('id') == counter[0]:
                    return reply.get('result', {})

        async def evaluate(expression):
            result = await call('Runtime.evaluate', expression=expression, returnByValue=True, awaitPromise=True)
            return result.get('result', {}).get('value')

        async def wait(expression, seconds):
            end = time.time() + seconds
            while time.time() < end:
                if await evaluate(expression):
                    return True
                await asyncio.sleep(0.5)
            return False

        kernel = ('(() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;'
                  ' const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;'
                  ' return k ? k.name + ":" + k.status : ""; })()')
        ready = await wait(f'{kernel} === "camscript:idle"', 120)
        check('the notebook opened with the CAMScript kernel', ready, await evaluate(kernel))
        await evaluate('window.jupyterapp.commands.execute("notebook:run-all-cells")')
        done = await wait('document.querySelectorAll(".jp-OutputArea-output img").length >= 1 && '
                          f'{kernel} === "camscript:idle"', 300)
        check('all cells ran and a picture is in the page', done)
        text = await evaluate('document.querySelector(".jp-Notebook").innerText')
        check('the output text is shown', text and 'explained: tabby' in text, (text or '')[:500])
        await evaluate('document.querySelector(".jp-OutputArea-output img").scrollIntoView()')
        await asyncio.sleep(1)
        shot = await call('Page.captureScreenshot', format='png')
        connection.close()
        return base64.b64decode(shot['data'])

    png = asyncio.run(drive())
    with open(SCREENSHOT, 'wb') as f:
        f.write(png)
    check('a screenshot', len(png) > 10_000)
    width, height, data = pixels(base64.b64encode(png))
    channels = len(data) // (width * height)
    # JET's saturated red, yellow and cyan: JupyterLab's own interface (blue accents, grey
    # text, a pink error background) has none of them in quantity.
    red = yellow = cyan = 0
    for i in range(0, len(data), channels):
        r, g, b = data[i], data[i + 1], data[i + 2]
        if r > 180 and g < 90 and b < 90:
            red += 1
        elif r > 180 and g > 180 and b < 90:
            yellow += 1
        elif r < 90 and g > 180 and b > 180:
            cyan += 1
    check('the heat map\'s colours are on screen', red > 1000 and yellow > 300 and cyan > 300,
          f'red {red}, yellow {yellow}, cyan {cyan} pixels')
finally:
    if chromium:
        chromium.kill()
    lab.terminate()
    try:
        lab.wait(timeout=20)
    except subprocess.TimeoutExpired:
        lab.kill()
print(f'{len(failures)} failed' if failures else 'all passed', flush=True)
sys.exit(len(failures))
