#!/usr/bin/env bash
# Tests for the Ward tree-sitter grammar. Runnable from any directory.
#
#   1. the tree-sitter CLI (pinned version; installed with cargo if missing),
#   2. src/ is what `tree-sitter generate` makes of grammar.js,
#   3. queries/helix/highlights.scm is in step with queries/highlights.scm,
#      and every query compiles,
#   4. `tree-sitter test`: corpus (test/corpus) and highlight (test/highlight),
#   5. the agreement check against `ward check` (scripts/agreement.js) on
#      fixed inputs, then on 1000 seeded mutants of them (scripts/mutants.js);
#      WARD_BIN names the ward binary (default /tmp/ward-bin, then
#      target/release/ward).
set -euo pipefail

TREE_SITTER_VERSION=0.27.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cd "$here"

step() { printf '\n== %s\n' "$*"; }

# ---- 1. tree-sitter CLI ------------------------------------------------------
step "tree-sitter CLI $TREE_SITTER_VERSION"
ts="${TREE_SITTER:-}"
if [ -z "$ts" ] && command -v tree-sitter >/dev/null 2>&1 &&
  [ "$(tree-sitter --version | awk '{print $2}')" = "$TREE_SITTER_VERSION" ]; then
  ts="$(command -v tree-sitter)"
fi
if [ -z "$ts" ]; then
  # The npm package downloads a prebuilt binary at install time; build from
  # crates.io instead. A pinned version: generated code and test output
  # depend on it. Installed outside the repository, kept for the next run.
  # No default features: they only embed QuickJS, and grammar.js runs on
  # node here.
  root="${XDG_CACHE_HOME:-$HOME/.cache}/ward/tree-sitter-cli-$TREE_SITTER_VERSION"
  if [ ! -x "$root/bin/tree-sitter" ]; then
    echo "installing tree-sitter-cli $TREE_SITTER_VERSION into $root (a few minutes)"
    cargo install tree-sitter-cli --locked --version "$TREE_SITTER_VERSION" \
      --no-default-features --root "$root"
  fi
  ts="$root/bin/tree-sitter"
fi
export TREE_SITTER="$ts"
"$ts" --version
# `tree-sitter generate` evaluates grammar.js with node by default.
command -v node >/dev/null 2>&1 || { echo "node is needed to run grammar.js" >&2; exit 1; }

# ---- 2. generated parser in sync ------------------------------------------------
step "src/ is generated from grammar.js"
gen="$(mktemp -d)"
trap 'rm -rf "$gen"' EXIT
cp grammar.js tree-sitter.json "$gen/"
mkdir "$gen/src"
cp src/scanner.c "$gen/src/"
(cd "$gen" && "$ts" generate)
for f in parser.c grammar.json node-types.json tree_sitter/parser.h tree_sitter/alloc.h tree_sitter/array.h; do
  if ! cmp -s "$gen/src/$f" "src/$f"; then
    echo "src/$f is out of date: run \`tree-sitter generate\` in editors/tree-sitter-ward and commit src/" >&2
    diff -u "src/$f" "$gen/src/$f" | head -40 >&2 || true
    exit 1
  fi
done
echo "in sync"

# ---- 3. queries ---------------------------------------------------------------------
step "queries"
scripts/helix-queries.sh --check
for q in queries/*.scm queries/helix/*.scm; do
  "$ts" query -p "$here" "$q" test/highlight/rule.ward >/dev/null ||
    { echo "$q does not compile" >&2; exit 1; }
done
echo "helix highlights in step; all queries compile"

# ---- 4. corpus and highlight tests --------------------------------------------
step "tree-sitter test"
"$ts" test -p "$here"

# ---- 5. agreement with ward.pest --------------------------------------------------
step "agreement with ward check"
if [ -z "${WARD_BIN:-}" ] && [ ! -x /tmp/ward-bin ] && [ -x "$repo/target/release/ward" ]; then
  export WARD_BIN="$repo/target/release/ward"
fi
node scripts/agreement.js
node scripts/mutants.js
