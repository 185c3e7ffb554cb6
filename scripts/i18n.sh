#!/usr/bin/env bash
# Extract message ids from code and templates and merge them into the zh_CN and en catalogs.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PYTHON:-.venv/bin/python}
$py -m babel.messages.frontend extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 -k lazy_gettext -k N_ \
  --no-location --sort-output -o src/yiwang/locale/messages.pot src/yiwang >/dev/null
for loc in zh_CN en; do
  po=src/yiwang/locale/$loc/LC_MESSAGES/messages.po
  if [ -f "$po" ]; then
    $py -m babel.messages.frontend update -i src/yiwang/locale/messages.pot -d src/yiwang/locale -l $loc --no-fuzzy-matching >/dev/null
  else
    $py -m babel.messages.frontend init -i src/yiwang/locale/messages.pot -d src/yiwang/locale -l $loc >/dev/null
  fi
done
echo "catalogs updated; untranslated zh_CN entries: $(grep -c '^msgstr ""$' src/yiwang/locale/zh_CN/LC_MESSAGES/messages.po || true)"
