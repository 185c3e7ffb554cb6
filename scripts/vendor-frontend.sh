#!/usr/bin/env bash
# Re-fetch the vendored front-end libraries from the npm registry (pinned versions).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
dest="$here/src/yiwang/core/static/vendor"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent htmx.org@2.0.11 echarts@5.6.0 >/dev/null
tar xzf htmx.org-2.0.11.tgz && cp package/dist/htmx.min.js package/LICENSE "$dest/htmx/" && rm -rf package
tar xzf echarts-5.6.0.tgz && cp package/dist/echarts.min.js package/LICENSE package/NOTICE "$dest/echarts/" && rm -rf package
(cd "$dest" && sha256sum htmx/htmx.min.js echarts/echarts.min.js)
