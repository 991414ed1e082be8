#!/bin/sh
# test_sanitizers.sh - leak detection in the sanitizer suite: tests/lsan.supp
# names third-party libraries only, and in a sanitizer build (LLFC_SANITIZE)
# LeakSanitizer is on and survives oneDNN's OpenMP threads at exit.
LLFC=${LLFC:-./llfc}
s=${LLFC_SRCDIR:-.}
supp="$s/tests/lsan.supp"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

bad=$(grep -v '^#' "$supp" | grep -v '^[[:space:]]*$' | grep -Ev '^leak:lib(dnnl|gomp|omp|mpi|open-pal|open-rte|fontconfig|pmix)\.so$|^leak:libevent_(core|pthreads)$')
n=$(grep -c '^leak:' "$supp")
if [ -z "$bad" ] && [ "$n" -ge 1 ]; then echo "ok - tests/lsan.supp suppresses third-party libraries only ($n entries)"
else echo "not ok - tests/lsan.supp suppresses third-party libraries only: [$bad]"; fi

if [ -n "$LLFC_SANITIZE" ]; then
  case ":$ASAN_OPTIONS:" in
    *:detect_leaks=1:*) echo "ok - the sanitizer suite runs with leak detection on ($ASAN_OPTIONS)" ;;
    *) echo "not ok - the sanitizer suite runs with leak detection on: ASAN_OPTIONS=$ASAN_OPTIONS" ;;
  esac
  # convolutions on oneDNN's threads, then exit: LeakSanitizer scans their TLS
  "$LLFC" -e 'local n = nn.vgg{layers = {8, "M", 8}, input = {3, 16, 16}, classes = 3, seed = 1}
              print(n:forward(tensor.rand({16, 768}, {seed = 1})):size(1), llfc.blas().conv)' > "$tmp/out" 2>&1
  rc=$?
  if [ "$rc" -eq 0 ] && ! grep -q "LeakSanitizer" "$tmp/out"; then
    echo "ok - leak detection survives convolutions and their threads ($(tail -n 1 "$tmp/out" | cut -f 2))"
  else
    echo "not ok - leak detection survives convolutions and their threads: exit $rc"; tail -n 8 "$tmp/out" | sed 's/^/    /'
  fi
fi
