#!/bin/sh
# tests/fuzz/build.sh - build the libFuzzer harnesses (see README).
# Usage: sh tests/fuzz/build.sh [OUTDIR]   (from the source tree; default OUTDIR /tmp/llfc-fuzz)
set -e
src=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/llfc-fuzz}
mkdir -p "$out"
CC=${CC:-clang}
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -D_DEFAULT_SOURCE -std=c11 -I$src/src"
CORE="$src/src/core/core.c $src/src/core/gemm.c $src/src/core/file.c $src/src/core/strbuf.c $src/src/core/tensor.c $src/src/io/npy.c $src/src/data/data.c $src/src/data/idx.c $src/src/data/cifar.c $src/src/io/safetensors.c"
LIBS="-lcjson -lz -lopenblas -lm"
for h in fuzz_safetensors fuzz_idx fuzz_cifar fuzz_npy; do
  $CC $FLAGS -o "$out/$h" "$src/tests/fuzz/$h.c" $CORE $LIBS
  echo "built $out/$h"
done
