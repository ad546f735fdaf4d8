# Helpers of the tests/cli scripts (sourced; the caller sets SELFSUP and TMP).

fail() {
  echo "FAIL: $*"
  exit 1
}

# expect_error DESCRIPTION TEXT ARGS...: `selfsup ARGS` exits non-zero (not a crash, not a hang)
# with exactly one line on stderr, which starts with "error: " and contains TEXT.
expect_error() {
  local desc=$1 text=$2
  shift 2
  timeout 300 "$SELFSUP" "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  [ "$rc" -ne 0 ] || fail "$desc: exit code 0, expected an error"
  [ "$rc" -ne 124 ] || fail "$desc: still running after 300 s"
  [ "$rc" -lt 128 ] || fail "$desc: crashed with exit code $rc: $(cat "$TMP/err")"
  [ "$(wc -l <"$TMP/err")" -eq 1 ] || fail "$desc: expected one line on stderr, got: $(cat "$TMP/err")"
  grep -q '^error: ' "$TMP/err" || fail "$desc: the line does not start with 'error:': $(cat "$TMP/err")"
  grep -qF -- "$text" "$TMP/err" || fail "$desc: message does not mention '$text': $(cat "$TMP/err")"
  echo "ok: $desc -> $(cat "$TMP/err")"
}
