#!/usr/bin/env bash
# Grammar tests for the VS Code extension. Runnable from any directory.
#   editors/vscode/test.sh
# Installs the pinned dev dependencies (npm ci; registry.npmjs.org only),
# runs the scope assertions in test/*.test.ward, then tokenizes every
# rules/**/*.ward file and every ```ward block of spec/language.md and fails
# on invalid or unhighlighted text. With WARD=/path/to/ward set, also checks
# that the test files (except diagnostics.test.ward) are valid Ward.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

command -v node >/dev/null || { echo "test.sh: node is not installed" >&2; exit 1; }
command -v npm >/dev/null || { echo "test.sh: npm is not installed" >&2; exit 1; }

if [[ ! -x node_modules/.bin/vscode-tmgrammar-test ]] || ! cmp -s package-lock.json node_modules/.ward-test-lock 2>/dev/null; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.ward-test-lock
fi

# The tool can hang on a malformed assertion line (two ` - ` in one); bound it
# where coreutils' timeout exists.
bound=()
if command -v timeout >/dev/null; then bound=(timeout 120); fi
${bound[@]+"${bound[@]}"} node_modules/.bin/vscode-tmgrammar-test --grammar syntaxes/ward.tmLanguage.json 'test/*.test.ward'
node test/check-files.js
node test/extension.test.js

if [[ -n "${WARD:-}" ]]; then
  valid=()
  for f in test/*.test.ward; do
    [[ $f == test/diagnostics.test.ward ]] || valid+=("$f")
  done
  "$WARD" check "${valid[@]}"
  echo
fi
echo "vscode grammar tests passed"
