#!/usr/bin/env python3
"""The CAMScript Jupyter kernel against a real client: jupyter_client's KernelManager and
BlockingKernelClient, no mocks (issue 19). Run by Tests/CAMScriptTests/KernelTests.swift:

    python3 Tests/kernel/check_kernel.py PATH/TO/camscript

Each check prints one line `ok NAME` or `FAIL NAME: why`; the exit code is the number of
failures (0: all passed). Every message the client receives is verified by jupyter_client's
Session (HMAC-SHA256 with the connection file's key: an unsigned or wrongly signed reply raises),
so the replies checked here are also the proof that the kernel signs correctly.
"""
import base64
import os
import subprocess
import sys
import tempfile
import time

from jupyter_client import BlockingKernelClient, KernelManager
from jupyter_client.kernelspec import KernelSpecManager

CAMSCRIPT = os.path.abspath(sys.argv[1])
DATA = tempfile.mkdtemp(prefix='camscript-kernel-')
os.environ['JUPYTER_DATA_DIR'] = DATA
failures = []


def check(name, condition, why=''):
    print(('ok ' if condition else 'FAIL ') + name + ('' if condition else ': ' + str(why)), flush=True)
    if not condition:
        failures.append(name)


def run(kc, code, timeout=60, **kw):
    """execute_interactive: the reply's content and the iopub messages of the request."""
    messages = []
    reply = kc.execute_interactive(code, timeout=timeout, output_hook=messages.append, **kw)
    return reply['content'], messages


def of_type(messages, kind):
    return [m for m in messages if m['msg_type'] == kind]


# ---- kernelspec
installed = subprocess.run([CAMSCRIPT, 'kernel', 'install', '--user'], capture_output=True, text=True)
check('install', installed.returncode == 0, installed.stderr)
specs = KernelSpecManager().find_kernel_specs()
check('kernelspec found', 'camscript' in specs, specs)
spec = KernelSpecManager().get_kernel_spec('camscript')
check('kernelspec fields', spec.language == 'camscript' and spec.interrupt_mode == 'signal'
      and spec.argv[1:] == ['kernel', '-f', '{connection_file}'] and os.path.isabs(spec.argv[0]), spec.to_dict())
check('kernelspec logos', all(os.path.getsize(os.path.join(specs['camscript'], f)) > 100
                              for f in ('logo-32x32.png', 'logo-64x64.png')))
two = subprocess.run([CAMSCRIPT, 'kernel', 'install', '--user', '--prefix', DATA], capture_output=True, text=True)
check('install refuses two locations', two.returncode == 64 and '--user' in two.stderr, two)
no_file = subprocess.run([CAMSCRIPT, 'kernel'], capture_output=True, text=True)
check('kernel without -f', no_file.returncode == 64 and 'install' in no_file.stderr, no_file)

# ---- start
log = open(os.path.join(DATA, 'kernel.log'), 'w+')
km = KernelManager(kernel_name='camscript')
started = time.time()
km.start_kernel(stderr=log)
kc = km.client()
kc.start_channels()
kc.wait_for_ready(timeout=30)
check('starts', time.time() - started < 30)
info = kc.kernel_info(reply=True, timeout=10)['content']
check('kernel_info', info['status'] == 'ok' and info['protocol_version'] == '5.4'
      and info['language_info']['name'] == 'camscript' and info['language_info']['file_extension'] == '.cam'
      and info['implementation'] == 'camscript', info)

# ---- execute
reply, messages = run(kc, '1 + 1')
results = of_type(messages, 'execute_result')
check('execute 1 + 1', reply['status'] == 'ok' and len(results) == 1
      and results[0]['content']['data']['text/plain'] == '2'
      and results[0]['content']['execution_count'] == reply['execution_count'], (reply, messages))
states = [m['content']['execution_state'] for m in of_type(messages, 'status')]
check('busy then idle', states == ['busy', 'idle'], states)
check('execute_input', of_type(messages, 'execute_input')[0]['content']['code'] == '1 + 1')
check('parent headers', all(m['parent_header'].get('msg_id') == messages[0]['parent_header']['msg_id']
                            for m in messages), [m['parent_header'] for m in messages])
first = reply['execution_count']
reply, messages = run(kc, 'x = 3\nprint x * 2\nprint "two"\nx')
streams = ''.join(m['content']['text'] for m in of_type(messages, 'stream'))
check('print as stream', streams == '6\ntwo\n', streams)
check('execution_count grows', reply['execution_count'] == first + 1, reply)
check('last value is the result', of_type(messages, 'execute_result')[0]['content']['data']['text/plain'] == '3')

reply, messages = run(kc, 'show colorbar("jet", length=40)')
displays = of_type(messages, 'display_data')
png = base64.b64decode(displays[0]['content']['data']['image/png']) if displays else b''
check('show as image/png', reply['status'] == 'ok' and png[:8] == b'\x89PNG\r\n\x1a\n'
      and 'text/plain' in displays[0]['content']['data'], messages)

reply, messages = run(kc, 'm = random_model "resnet18"\nx = zeros([3, 64, 64])\nc = gradcam m x layer="layer4" target=1\nc')
results = of_type(messages, 'execute_result')
check('a CAM as the result', reply['status'] == 'ok' and results and 'image/png' in results[0]['content']['data'],
      (reply, [m['msg_type'] for m in messages]))

reply, messages = run(kc, 'print y')
errors = of_type(messages, 'error')
check('error reply', reply['status'] == 'error' and reply['ename'] == 'RuntimeError' and 'undefined name' in reply['evalue'],
      reply)
check('located traceback', errors and errors[0]['content']['traceback'][0].startswith(f"cell[{reply['execution_count']}]:1:7: error:")
      and errors[0]['content']['traceback'][1] == '    print y' and errors[0]['content']['traceback'][2].strip() == '^',
      errors and errors[0]['content'])
reply, _ = run(kc, 'print x')
check('variables survive an error', reply['status'] == 'ok')

# stop_on_error: the execute request queued behind a failing one is aborted, not run (the
# failing cell loops first, so that the second request is surely queued when it fails)
kc.execute('for i in range(300000):\n    k = i\nprint nope', stop_on_error=True)
queued = kc.execute('aborted_ran = 1')
replies = {}
while queued not in replies:
    msg = kc.get_shell_msg(timeout=30)
    replies[msg['parent_header']['msg_id']] = msg['content']
check('stop_on_error aborts the queue', replies[queued]['status'] == 'aborted', replies)
reply, _ = run(kc, 'print aborted_ran')
check('an aborted cell did not run', reply['status'] == 'error', reply)

# ---- complete, inspect, is_complete, history, comm_info
content = kc.complete('pri', 3, reply=True, timeout=10)['content']
check('complete a builtin', 'print' in content['matches'] and content['cursor_start'] == 0 and content['cursor_end'] == 3, content)
content = kc.complete('print m.arch', 12, reply=True, timeout=10)['content']
check('complete a member', 'm.architecture' in content['matches'] and content['cursor_start'] == 6, content)
content = kc.complete('gradcam m x lay', 15, reply=True, timeout=10)['content']
check('complete a keyword', 'layer=' in content['matches'], content)
content = kc.inspect('gradcam m x', 3, reply=True, timeout=10)['content']
check('inspect', content['found'] and 'Grad-CAM' in content['data']['text/plain'], content)
content = kc.inspect('nothing_here', 3, reply=True, timeout=10)['content']
check('inspect unknown', content['status'] == 'ok' and not content['found'], content)


def is_complete(code):
    kc.is_complete(code)
    return kc.get_shell_msg(timeout=10)['content']


check('is_complete complete', is_complete('1 + 1')['status'] == 'complete')
check('is_complete bracket', is_complete('print [1,')['status'] == 'incomplete')
block = is_complete('for i in [1, 2]:')
check('is_complete block', block['status'] == 'incomplete' and block['indent'] == '    ', block)
check('is_complete block closed', is_complete('for i in [1, 2]:\n    print i\n')['status'] == 'complete')
kc.history(hist_access_type='tail', n=2)
content = kc.get_shell_msg(timeout=10)['content']
check('history', content['status'] == 'ok' and len(content['history']) == 2 and content['history'][-1][2] == 'print aborted_ran',
      content)
kc.comm_info()
check('comm_info', kc.get_shell_msg(timeout=10)['content'] == {'status': 'ok', 'comms': {}})

# ---- interrupt: by signal (the kernelspec's mode) during a loop, and by a control message during
# a ScoreCAM, whose progress is one display updated in place
cells = {'signal': 'for i in range(10000):\n    for j in range(10000):\n        n = i + j\n',
         'message': 'n = 1\ns = scorecam m zeros([3, 224, 224]) layer="layer3" target=1 batch_size=4\n'}
for how in ('signal', 'message'):
    while True:
        try:
            kc.get_iopub_msg(timeout=0.2)
        except Exception:
            break
    msg_id = kc.execute(cells[how])
    time.sleep(1.5)
    if how == 'signal':
        km.interrupt_kernel()
    else:
        kc.control_channel.send(kc.session.msg('interrupt_request', {}))
    reply = kc.get_shell_msg(timeout=30)
    while reply['parent_header']['msg_id'] != msg_id:
        reply = kc.get_shell_msg(timeout=30)
    check(f'interrupt by {how}', reply['content']['status'] == 'error' and reply['content']['ename'] == 'KeyboardInterrupt',
          reply['content'])
    if how == 'message':
        shown = []
        while True:
            try:
                m = kc.get_iopub_msg(timeout=0.5)
            except Exception:
                break
            if m['parent_header'].get('msg_id') == msg_id:
                shown.append(m)
        first = [m for m in shown if m['msg_type'] == 'display_data' and 'display_id' in m['content'].get('transient', {})]
        updates = [m for m in shown if m['msg_type'] == 'update_display_data']
        check('progress as an updated display', first and updates and all(
            u['content']['transient']['display_id'] == first[0]['content']['transient']['display_id'] for u in updates)
            and first[0]['content']['data']['text/plain'].startswith('scorecam'), [m['msg_type'] for m in shown])
    reply, messages = run(kc, 'print n > 0')
    check(f'variables survive an interrupt ({how})', ''.join(m['content']['text'] for m in of_type(messages, 'stream')) == 'true\n',
          messages)

# ---- hostile input: a wrong signature is dropped (logged, never run); malformed JSON and
# unknown types leave the kernel serving
forged = BlockingKernelClient(connection_file=km.connection_file)
forged.load_connection_file()
forged.session.key = b'not-the-key'
forged.start_channels()
forged.execute('forged_ran = 1')
time.sleep(1)
forged.stop_channels()
reply, _ = run(kc, 'print forged_ran')
check('a wrongly signed cell is not run', reply['status'] == 'error' and 'forged_ran' in reply['evalue'], reply)
log.flush()
log.seek(0)
check('the drop is logged', 'signature that does not verify' in log.read())
socket = kc.shell_channel.socket
frames = [b'{"msg_type": "execute_request", "msg_id": "x"', b'{}', b'{}', b'{"code": "print 1"}']
socket.send_multipart([b'<IDS|MSG>', kc.session.sign(frames)] + frames)
socket.send_multipart([b'garbage'])
header = kc.session.msg_header('no_such_request')
kc.shell_channel.send(kc.session.msg('no_such_request', {}, header=header))
reply, _ = run(kc, '2 + 2')
check('serves after malformed messages', reply['status'] == 'ok')

# ---- 1,000 executions: the kernel's memory does not grow by more than 10 %


def rss_kib(pid):
    with open(f'/proc/{pid}/status') as f:
        return next(int(line.split()[1]) for line in f if line.startswith('VmRSS:'))


pid = km.provisioner.process.pid
for i in range(100):
    run(kc, f'v = {i} + 1')
before = rss_kib(pid)
started = time.time()
for i in range(1000):
    run(kc, f'v = {i} + 1\nv')
after = rss_kib(pid)
check('1000 executions, memory', after <= before * 1.10, f'{before} KiB -> {after} KiB')
print(f'   (1000 executions in {time.time() - started:.1f} s; RSS {before} -> {after} KiB)', flush=True)

# ---- two kernels at once keep their own sessions
km2 = KernelManager(kernel_name='camscript')
km2.start_kernel(stderr=log)
kc2 = km2.client()
kc2.start_channels()
kc2.wait_for_ready(timeout=30)
run(kc, 'shared = "first"')
run(kc2, 'shared = "second"')
_, one = run(kc, 'print shared')
_, two = run(kc2, 'print shared')
check('two kernels at once', of_type(one, 'stream')[0]['content']['text'] == 'first\n'
      and of_type(two, 'stream')[0]['content']['text'] == 'second\n', (one, two))
kc2.stop_channels()
km2.shutdown_kernel(now=False)

# ---- a killed client: the kernel it started leaves by itself (JPY_PARENT_PID)
client = subprocess.Popen([sys.executable, '-c', (
    'import sys, time\n'
    'from jupyter_client import KernelManager\n'
    'km = KernelManager(kernel_name="camscript")\n'
    'km.start_kernel()\n'
    'print(km.provisioner.process.pid, flush=True)\n'
    'time.sleep(300)\n')], stdout=subprocess.PIPE, text=True)
orphan = int(client.stdout.readline())
client.kill()
client.wait()
deadline = time.time() + 10
while time.time() < deadline and os.path.exists(f'/proc/{orphan}') and \
        open(f'/proc/{orphan}/stat').read().split()[2] != 'Z':
    time.sleep(0.2)
gone = not os.path.exists(f'/proc/{orphan}') or open(f'/proc/{orphan}/stat').read().split()[2] == 'Z'
check('a killed client\'s kernel leaves', gone)
if not gone:
    os.kill(orphan, 9)

# ---- silent execution, restart, shutdown
reply, messages = run(kc, 'silent_value = 5\nprint "hidden"', silent=True)
check('silent', reply['status'] == 'ok' and not of_type(messages, 'stream'), messages)
km.restart_kernel(now=False)
kc.wait_for_ready(timeout=30)
reply, _ = run(kc, 'print x')
check('restart starts afresh', reply['status'] == 'error', reply)
process = km.provisioner.process if km.provisioner else None
km.shutdown_kernel(now=False)
check('shutdown', not km.is_alive())
if process is not None:
    check('exit code 0 after shutdown', process.wait(timeout=10) == 0, process.returncode)

kc.stop_channels()
print(f'{len(failures)} failed' if failures else 'all passed', flush=True)
sys.exit(len(failures))
