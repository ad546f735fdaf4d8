#!/usr/bin/env bash
# docs/results.md is generated from docs/results/ by scripts/results_page.py: this regenerates it
# into a temporary file and fails, in one line, when the committed page is not what the files give.
# Usage: bash results_page.sh <selfsup binary (unused)> <source dir> <build dir (unused)>
set -u
SRC=${2:?usage: results_page.sh SELFSUP_BINARY SOURCE_DIR BINARY_DIR}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_results_page.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

fail() {
  echo "FAIL: $*"
  exit 1
}

command -v python3 >/dev/null || fail "python3 not found"
python3 "$SRC/scripts/results_page.py" --root "$SRC" --out "$TMP/results.md" 2>"$TMP/err" ||
  fail "scripts/results_page.py failed: $(tail -n 1 "$TMP/err")"
[ -f "$SRC/docs/results.md" ] || fail "docs/results.md is missing: run 'python3 scripts/results_page.py'"
if ! diff -q "$SRC/docs/results.md" "$TMP/results.md" >/dev/null; then
  line=$(diff "$SRC/docs/results.md" "$TMP/results.md" | sed -n '1s/^\([0-9]*\).*/\1/p')
  fail "docs/results.md is not current (first difference at line $line): run 'python3 scripts/results_page.py'"
fi
echo "PASS"
