#!/usr/bin/env bash
# Side by side: two-view SimCLR augmentation throughput of selfsup (bench/augment_bench) and of the
# same pipeline written the torchvision way (bench/python/augment_torchvision.py), both on 2 cores.
# The two alternate REPS times; the median of each is reported with the ratio per shape.
#
# usage: bench/run_augment_bench.sh [BUILD_DIR] [REPS]      (defaults: ./build, 5)
#   AUGMENT_BENCH=path/to/augment_bench and PYTHON=/usr/bin/python3 override the programs.
# Output: one line per shape, e.g.
#   shape=32x32x3 selfsup_images_per_s=25000.0 torchvision_images_per_s=1000.0 ratio=25.0
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
reps=${2:-5}
bench=${AUGMENT_BENCH:-$build/bench/augment_bench}
python=${PYTHON:-/usr/bin/python3}
shapes=28x28x1,32x32x3
[[ -x $bench ]] || { echo "error: $bench not found (build the augment_bench target)" >&2; exit 1; }
"$python" -c "import torchvision" 2>/dev/null || { echo "error: $python lacks torchvision" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
for ((r = 1; r <= reps; r++)); do
  "$bench" --reps 3 --batches 40 --threads 2 --shapes "$shapes" >>"$tmp/ours"
  "$python" "$here/python/augment_torchvision.py" --shapes "$shapes" >>"$tmp/theirs"
done
echo "load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"

# median of the images_per_s values of one shape in one file
median() {
  grep "shape=$2 " "$1" | sed 's/.*images_per_s=\([0-9.]*\).*/\1/' | sort -g |
    awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
for shape in ${shapes//,/ }; do
  ours=$(median "$tmp/ours" "$shape")
  theirs=$(median "$tmp/theirs" "$shape")
  awk -v s="$shape" -v o="$ours" -v t="$theirs" -v n="$reps" 'BEGIN {
    printf "shape=%s selfsup_images_per_s=%.1f torchvision_images_per_s=%.1f ratio=%.1f reps=%d\n",
           s, o, t, o / t, n }'
done
