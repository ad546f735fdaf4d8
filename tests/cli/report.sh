#!/usr/bin/env bash
# The report page in a real browser: a self-supervised and a semi-supervised run and an active
# learning loop each write their report.html at the end; `selfsup report` overlays the first two
# (curves on shared axes, t-SNE maps, per-class accuracy and confusion matrix, pictures, config).
# Debian's headless Chromium opens the pages: no script error and no console.error may occur,
# every chart must paint, and a screenshot must show each chart's data in its colours. A run still
# writing (partial last metrics line) is reported with a note; a folder that is not a run and a
# damaged metrics file fail with one error line each.
# Usage: bash report.sh <selfsup binary> <source dir> <build dir>
set -u
SELFSUP=$1
SRC=$2
TMP=$(mktemp -d "${TMPDIR:-/tmp}/selfsup_report.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
source "$(dirname "$0")/../support/cli.sh"
[ -x "$SELFSUP" ] || fail "selfsup binary '$SELFSUP' not found"
PY=/usr/bin/python3
CHROMIUM=$(command -v chromium || command -v chromium-browser) || fail "no chromium (scripts/setup.sh installs it)"
"$PY" -c 'import PIL' 2>/dev/null || fail "$PY lacks PIL (python3-pil; scripts/setup.sh installs it)"
CHECK="$SRC/tests/cli/report_check.py"

# browse PAGE NAME MIN_CHARTS: the page's status from its DOM (it records every uncaught error and
# console.error itself: headless Chromium does not log the console), then a whole-page screenshot
# checked chart by chart.
browse() {
  local page=$1 name=$2 min=$3 width=1400
  local flags=(--headless=new --no-sandbox --disable-gpu --hide-scrollbars --no-first-run
               --user-data-dir="$TMP/chromium" --virtual-time-budget=15000)
  timeout 120 "$CHROMIUM" "${flags[@]}" --window-size=$width,1000 --dump-dom "file://$page" >"$TMP/$name.dom" \
    2>"$TMP/$name.console" || fail "$name: chromium --dump-dom failed: $(tail -3 "$TMP/$name.console")"
  local height
  height=$("$PY" "$CHECK" "$TMP/$name.dom") || fail "$name: $height"
  timeout 120 "$CHROMIUM" "${flags[@]}" --window-size=$width,$height --screenshot="$TMP/$name.png" "file://$page" \
    >/dev/null 2>"$TMP/$name.console2" || fail "$name: chromium --screenshot failed: $(tail -3 "$TMP/$name.console2")"
  local result
  result=$("$PY" "$CHECK" "$TMP/$name.dom" "$TMP/$name.png" "$min") || fail "$name: $result"
  echo "ok: $name in Chromium: $result"
}

printf '%s\n' "method: {name: simclr}" "data: {name: fashion-mnist, limit: 512}" \
  "model: {backbone: convnet, channels: [8, 16]}" "train: {batch_size: 64, max_steps: 24, threads: 2, log_every_steps: 2}" \
  "eval: {protocols: [knn]}" "report: {map: tsne, points: 300}" "seed: 1" >"$TMP/simclr.yaml"
"$SELFSUP" pretrain --config "$TMP/simclr.yaml" --out "$TMP/simclr" --quiet >/dev/null 2>"$TMP/err" ||
  fail "pretrain failed: $(tail -3 "$TMP/err")"
printf '%s\n' "method: {name: supervised}" "data: {name: fashion-mnist, limit: 600, labels_per_class: 10, val_per_class: 5}" \
  "model: {backbone: convnet, channels: [8, 16]}" "train: {batch_size: 32, max_steps: 20, threads: 2, log_every_steps: 2}" \
  "report: {map: pca, points: 200}" "seed: 2" >"$TMP/semi.yaml"
"$SELFSUP" semi --config "$TMP/semi.yaml" --out "$TMP/semi" --quiet >/dev/null 2>"$TMP/err" ||
  fail "semi failed: $(tail -3 "$TMP/err")"
for run in simclr semi; do
  [ -s "$TMP/$run/report.html" ] || fail "the $run run wrote no report.html"
done
grep -q '"method":"tsne"' "$TMP/simclr/report.html" || fail "the pretrain run's page has no t-SNE map"
grep -q '"test_confusion_ema"' "$TMP/semi/report.html" || fail "the semi run's page lacks its confusion matrix"
browse "$TMP/simclr/report.html" "pretrain run's own page" 5
browse "$TMP/semi/report.html" "semi run's own page" 5
# An active learning loop (no model of its own): its accuracy drawn against the labeled images.
printf '%s\n' "strategy: {name: margin}" "active: {initial_size: 10, batch: 10, budget: 40, split: val, val_per_class: 5}" \
  "data: {name: fashion-mnist, limit: 512}" "train: {threads: 2}" "seed: 3" >"$TMP/active.yaml"
"$SELFSUP" active --config "$TMP/active.yaml" --init "$TMP/simclr" --out "$TMP/active" --quiet >/dev/null 2>"$TMP/err" ||
  fail "active failed: $(tail -3 "$TMP/err")"
browse "$TMP/active/report.html" "active loop's own page" 3
"$PY" -c 'import re, sys; m = re.search(r"<select id=\"xaxis\"><option value=\"(\w+)\"", open(sys.argv[1]).read())
sys.exit(0 if m and m.group(1) == "labeled" else f"x axis {m and m.group(1)}, expected labeled")' \
  "$TMP/active loop's own page.dom" || fail "the active loop's curves are not drawn against the labeled images"

# Both runs on one page, their curves overlaid; the semi run's metrics cut mid-line as a live run
# can leave them.
head -c -7 "$TMP/semi/metrics.jsonl" >"$TMP/cut" && cp "$TMP/cut" "$TMP/semi/metrics.jsonl"
"$SELFSUP" report "$TMP/simclr" "$TMP/semi" --out "$TMP/both.html" --points 250 --threads 2 >"$TMP/out" 2>"$TMP/err" ||
  fail "report of two runs failed: $(tail -3 "$TMP/err")"
grep -q 'metrics.jsonl is incomplete' "$TMP/both.html" || fail "no note about the cut metrics line"
browse "$TMP/both.html" "two runs overlaid" 8

# Refusals, one line each.
mkdir -p "$TMP/notarun"
expect_error "a folder that is not a run" "is not a run folder (it has no config.yaml)" report "$TMP/notarun" --out "$TMP/x.html"
expect_error "a missing folder" "is not a folder" report "$TMP/missing" --out "$TMP/x.html"
printf '%s\n' '{"step": 1, "loss": 2.0}' 'garbage' '{"step": 2, "loss": 1.0}' >"$TMP/semi/metrics.jsonl"
expect_error "a damaged metrics file" "metrics.jsonl line 2 is not a JSON object" report "$TMP/semi" --out "$TMP/x.html"
expect_error "an unknown map" "--map" report "$TMP/simclr" --map umap --out "$TMP/x.html"
expect_error "too few points" "report.points must be in [10, 10000], got 3" report "$TMP/simclr" --points 3 --out "$TMP/x.html"
[ ! -e "$TMP/x.html" ] || fail "a refused report left a file behind"
echo "report: all checks passed"
