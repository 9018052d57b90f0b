#!/usr/bin/env bash
# Headless tests of the Ward Vim files. Runnable from any directory.
#   editors/vim/test.sh            (VIM_BIN=/path/to/vim to pick another binary)
# Checks file type detection, the ftplugin and indent settings, the syntax
# group under every caret of test/syntax.ward, re-indentation of
# test/indent.ward, and that every non-blank character of rules/**/*.ward and
# of the ```ward blocks of spec/language.md and README.md gets a Ward group and
# no error group.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
vim="${VIM_BIN:-vim}"

if ! command -v "$vim" >/dev/null 2>&1; then
  echo "test.sh: vim not found (install it, e.g. apt-get install -y vim-nox)" >&2
  exit 1
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Real rule files, then each ```ward block of these markdown files (complete,
# valid files) as a file of its own, named after the block's first line.
find "$repo/rules" -name '*.ward' -type f | LC_ALL=C sort > "$work/files"
mkdir "$work/md"
for md in spec/language.md README.md; do
  [[ -f "$repo/$md" ]] || continue
  awk -v prefix="$work/md/${md//\//_}" '
    /^```ward[ \t]*$/ { inblock = 1; out = sprintf("%s-line-%04d.ward", prefix, NR + 1); next }
    /^```/ && inblock { inblock = 0; close(out); next }
    inblock { print > out }
  ' "$repo/$md"
done
find "$work/md" -name '*.ward' -type f | LC_ALL=C sort >> "$work/files"

bound=()
if command -v timeout >/dev/null; then bound=(timeout 120); fi
status=0
WARD_VIM_DIR="$here" WARD_VIM_FILES="$work/files" WARD_VIM_OUT="$work/report" \
  ${bound[@]+"${bound[@]}"} "$vim" -Nu NONE -i NONE -es --cmd "set rtp^=$here" -S "$here/test/run.vim" </dev/null \
  || status=$?

if [[ ! -f "$work/report" ]]; then
  echo "test.sh: vim exited with status $status and wrote no report" >&2
  exit 1
fi
cat "$work/report"
if [[ $status -ne 0 ]]; then
  echo "vim syntax tests FAILED" >&2
  exit 1
fi
echo "vim syntax tests passed"
