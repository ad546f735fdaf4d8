#!/usr/bin/env bash
# cmake --install puts the library, headers and package config in a prefix; a separate project
# then finds it with find_package(selfsup) and links selfsup::selfsup.
set -u
bin=$1 src=$2 build=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
cmake --install "$build" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1 || { cat "$tmp/install.log"; fail "cmake --install"; }
[ -f "$tmp/prefix/include/selfsup/losses/nt_xent.h" ] || fail "headers not installed"
ls "$tmp"/prefix/lib*/cmake/selfsup/selfsupConfig.cmake >/dev/null 2>&1 || fail "package config not installed"
cmake -S "$src/tests/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" -DCMAKE_BUILD_TYPE=Release \
  >"$tmp/configure.log" 2>&1 || { cat "$tmp/configure.log"; fail "consumer configure"; }
cmake --build "$tmp/consumer" -j2 >"$tmp/build.log" 2>&1 || { tail -30 "$tmp/build.log"; fail "consumer build"; }
"$tmp/consumer/consumer" || fail "consumer run"
echo PASS
