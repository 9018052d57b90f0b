#!/usr/bin/env bash
# Neovim headless, with the minimal configuration test/init.lua, opens a
# rule file with a typo'd field and must receive `ward lsp`'s diagnostic for
# it (code, line, UTF-16 column). Runnable from any directory.
#   WARD_BIN=/path/to/ward editors/nvim/test.sh
# Neovim comes from Debian (apt-get install neovim), as .ci/run installs it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
command -v nvim >/dev/null || { echo "test.sh: nvim is not installed" >&2; exit 1; }
ward="${WARD_BIN:-$(command -v ward || true)}"
[ -x "$ward" ] || { echo "test.sh: set WARD_BIN to the ward binary" >&2; exit 1; }
nvim --version | head -1

ws="$(mktemp -d)"
trap 'rm -rf "$ws"' EXIT
cat > "$ws/typo.ward" <<'WARD'
source k8s.audit

rule exec_into_pod {
  title "Exec into a pod"
  when  objectRef.resorce == "pods" and objectRef.subresource == "exec"
}
WARD
out="$ws/diagnostics.txt"
(cd "$ws" && WARD_BIN="$ward" OUT="$out" timeout 60 nvim --headless -n -i NONE \
  -u "$here/test/init.lua" typo.ward -c 'lua WardReport()') || true
echo "diagnostics received:"
cat "$out"
# Line 5, column 19 (1-based): the misspelt name `resorce`.
want='5:19 E020 unknown field `objectRef.resorce`: `objectRef` has no field `resorce`'
grep -qxF "$want" "$out" || { echo "nvim test: expected: $want" >&2; exit 1; }
echo "neovim lsp test passed"
