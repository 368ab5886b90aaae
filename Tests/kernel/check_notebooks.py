#!/usr/bin/env python3
"""Notebooks exported by `camscript run --ipynb` rerun in the CAMScript kernel through nbclient
and give the same outputs (issue 19): for each example script, the exported notebook's code
cells are executed again by nbclient (kernel `camscript`, the kernelspec the export names), and
every cell's outputs are compared with the export's: stream text exactly, results and displays
by their text and by their pictures' pixels (decoded PNG), errors by name and message.

Usage: python3 Tests/kernel/check_notebooks.py PATH/TO/camscript EXAMPLES_FOLDER SCRIPT.cam...
(run in a copy of the examples folder: the scripts write their pictures beside them). Prints one
line per notebook, `ok NAME (N cells)` or `FAIL NAME: cell K: why`; exit code = failures.
"""
import copy
import os
import re
import subprocess
import sys
import tempfile

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from png_pixels import pixels  # noqa: E402

CAMSCRIPT = os.path.abspath(sys.argv[1])
FOLDER = os.path.abspath(sys.argv[2])
SCRIPTS = sys.argv[3:]
os.environ['JUPYTER_DATA_DIR'] = tempfile.mkdtemp(prefix='camscript-notebooks-')
subprocess.run([CAMSCRIPT, 'kernel', 'install', '--user'], check=True, capture_output=True)


def summary(outputs):
    """Each output as what must be equal: kind, text, picture. Durations printed by `time`
    differ from run to run and are compared as `time: … ms`; the display a long method's progress
    used, cleared to an empty text when it finished, is not output (a run's export has none)."""
    result = []
    text = ''
    for output in outputs:
        kind = output['output_type']
        if kind == 'stream':
            text += re.sub(r'time: [0-9.]+ (ms|s)', 'time: … ms', output['text'])
            continue
        if kind == 'display_data' and output['data'] == {'text/plain': ''}:
            continue
        if text:
            result.append(('stream', text))
            text = ''
        if kind in ('execute_result', 'display_data'):
            data = output['data']
            picture = pixels(data['image/png']) if 'image/png' in data else None
            result.append((kind, data.get('text/plain'), picture))
        elif kind == 'error':
            result.append((kind, output['ename'], output['evalue']))
    if text:
        result.append(('stream', text))
    return result


failures = 0
for script in SCRIPTS:
    exported = os.path.join(tempfile.mkdtemp(), 'export.ipynb')
    path = os.path.join(FOLDER, script)
    subprocess.run([CAMSCRIPT, 'run', path, '--ipynb', exported], capture_output=True)
    notebook = nbformat.read(exported, as_version=4)
    rerun = copy.deepcopy(notebook)
    for cell in rerun.cells:
        if cell.cell_type == 'code':
            cell.outputs = []
    NotebookClient(rerun, kernel_name=notebook.metadata.kernelspec.name, timeout=900, allow_errors=True,
                   resources={'metadata': {'path': os.path.dirname(path)}}).execute()
    problem = None
    code_cells = 0
    for index, (before, after) in enumerate(zip(notebook.cells, rerun.cells)):
        if before.cell_type != 'code' or before.execution_count is None:
            continue
        code_cells += 1
        expected, got = summary(before.outputs), summary(after.outputs)
        if expected != got:
            def short(items):
                return [(i[0], i[1][:200] if isinstance(i[1], str) else i[1],
                         None if len(i) < 3 or i[2] is None else (i[2][:2] if isinstance(i[2], tuple) else i[2]))
                        for i in items]
            problem = f'cell {index + 1}: export {short(expected)} != kernel {short(got)}'
            break
    if problem:
        failures += 1
        print(f'FAIL {script}: {problem}', flush=True)
    else:
        print(f'ok {script} ({code_cells} cells)', flush=True)
sys.exit(failures)
