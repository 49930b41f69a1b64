#!/usr/bin/env bash
# Makes .venv-hub: a Python venv with the real huggingface_hub, installed from the wheels this
# machine kind keeps on disk (/opt/pypi/files; PyPI itself is not reachable). Interop tests use it
# to run Python's scan_cache_dir / hf_hub_download against caches and mirrors hubcache writes.
# Prints nothing and exits 0 when the wheels are absent: those tests then say they were skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
wheels=/opt/pypi/files
[ -d "$wheels" ] || { echo "note: $wheels absent; Python huggingface_hub interop tests will be skipped"; exit 0; }
if [ ! -x .venv-hub/bin/python ] || ! .venv-hub/bin/python -c 'import huggingface_hub' 2>/dev/null; then
  python3 -m venv .venv-hub
  .venv-hub/bin/pip install -q --no-index --find-links "$wheels" 'huggingface_hub==1.33.0' filelock
fi
.venv-hub/bin/python -c 'import huggingface_hub; print("python huggingface_hub", huggingface_hub.__version__)'
