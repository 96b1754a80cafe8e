#!/usr/bin/env bash
# Installs schemathesis (PyPI), the schema-driven fuzzer the admin API's fuzz test runs
# (test/e2e/admin-api-fuzz.e2e-spec.ts), into a virtual environment in .cache/schemathesis. Idempotent: a present
# install of the pinned version is kept. Needs python3 with venv (Debian: python3-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=4.32.5
VENV=.cache/schemathesis
if [[ "$("$VENV/bin/st" --version 2>/dev/null || true)" == "st, version $VERSION" ]]; then exit 0; fi
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION"
echo "schemathesis: $("$VENV/bin/st" --version) in $VENV"
