#!/usr/bin/env bash
# Rewrite README.md's roles × permissions × scope matrix from the code (each domain's roles.py).
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
$py - <<'PY'
from pathlib import Path

from yiwang.app import with_roles_matrix

readme = Path("README.md")
text = readme.read_text(encoding="utf-8")
new = with_roles_matrix(text)
if new != text:
    readme.write_text(new, encoding="utf-8")
print("README.md roles matrix", "updated" if new != text else "already current")
PY
