#!/usr/bin/env python3
"""`.cam` scripts round-trip through Jupytext's percent format unchanged (issue 19): each script
becomes a notebook for the CAMScript kernel (`--from py:percent --to ipynb --set-kernel
camscript`; Jupytext knows no `.cam` extension, so through stdin) and comes back
(`--to py:percent --opt notebook_metadata_filter=-all --update-metadata
'{"jupytext": {"main_language": "python"}}'`: for a language it does not know, Jupytext would
add a `# -*- coding: utf-8 -*-` line above non-ASCII text; CAMScript's comments are Python's)
byte for byte, cell titles included.

Usage: python3 Tests/kernel/check_jupytext.py PATH/TO/camscript SCRIPT.cam...  (exit code =
failures; one line per script)
"""
import json
import os
import subprocess
import sys
import tempfile

CAMSCRIPT = os.path.abspath(sys.argv[1])
os.environ['JUPYTER_DATA_DIR'] = tempfile.mkdtemp(prefix='camscript-jupytext-')
subprocess.run([CAMSCRIPT, 'kernel', 'install', '--user'], check=True, capture_output=True)
jupytext = [sys.executable, '-m', 'jupytext']
failures = 0
for script in sys.argv[2:]:
    with open(script, 'rb') as f:
        original = f.read()
    notebook = os.path.join(tempfile.mkdtemp(), 'notebook.ipynb')
    to = subprocess.run(jupytext + ['--from', 'py:percent', '--to', 'ipynb', '--set-kernel', 'camscript',
                                    '-o', notebook, '-'], input=original, capture_output=True)
    back = subprocess.run(jupytext + ['--from', 'ipynb', '--to', 'py:percent', '--opt', 'notebook_metadata_filter=-all',
                                      '--update-metadata', '{"jupytext": {"main_language": "python"}}',
                                      '-o', '-', notebook], capture_output=True)
    problem = None
    if to.returncode != 0 or back.returncode != 0:
        problem = (to.stderr + back.stderr).decode()[-500:]
    else:
        with open(notebook) as f:
            kernel = json.load(f)['metadata']['kernelspec']['name']
        if kernel != 'camscript':
            problem = f'kernelspec {kernel}'
        elif back.stdout != original:
            lines = [(a, b) for a, b in zip(original.decode().split('\n'), back.stdout.decode().split('\n')) if a != b]
            problem = f'changed: {lines[:2]}'
    print(f'FAIL {script}: {problem}' if problem else f'ok {script}', flush=True)
    failures += problem is not None
sys.exit(failures)
