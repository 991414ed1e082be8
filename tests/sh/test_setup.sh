#!/bin/sh
# test_setup.sh - scripts/setup (the README's first command) installs every
# package the suite checks with, so the README's second command runs them all:
# each package the tests look for is in its list, as is every package CI needs.
s=${LLFC_SRCDIR:-.}
setup="$s/scripts/setup"
pkgs=$(tr '\n' ' ' < "$setup" | grep -o 'PKGS="[^"]*"' | sed 's/PKGS=//; s/"//g; s/\$PKGS//' | tr -s ' \t' '\n\n')
# package: what needs it
for need in "python3-numpy:NumPy interop (test_tensor, test_data, test_nn, test_cnn_numpy)" \
            "dataset-fashion-mnist:the real Fashion-MNIST (test_data)" \
            "libxml2-utils:xmllint on SVG exports (test_view)" \
            "tmux:terminal tests (test_*_tmux)" \
            "strace:saves reach the disk (test_save)" \
            "lua5.4:require \"llfc\" from plain Lua (test_module)" \
            "libdnnl-dev:oneDNN against im2col (test_conv)" \
            "poppler-utils:PDF exports (test_view)" \
            "librsvg2-bin:PDF against SVG (test_view)" \
            "openmpi-bin:sweeps under mpirun (test_sweep_mpi)" \
            "libopenmpi-dev:the MPI build (test_sweep_mpi)"; do
  p=${need%%:*}
  if printf '%s\n' "$pkgs" | grep -qx "$p"; then echo "ok - scripts/setup installs $p: ${need#*:}"
  else echo "not ok - scripts/setup installs $p: ${need#*:}"; fi
done
# the CI script is part of the repository, not of the release tarball
if [ ! -f "$s/.ci/run" ]; then
  echo "skip - CI installs through scripts/setup and runs make distcheck: no .ci/run (a release tarball)"
  exit 0
fi
grep -q '^\./scripts/setup$' "$s/.ci/run" && echo "ok - CI installs through scripts/setup" || echo "not ok - CI installs through scripts/setup"
# CI builds the release tarball and runs its suite out of tree, and fails when it fails
if grep -qE '^make .*distcheck' "$s/.ci/run" && grep -q 'make distcheck failed"; exit 1' "$s/.ci/run"; then
  echo "ok - CI runs make distcheck and fails with it"
else
  echo "not ok - CI runs make distcheck and fails with it"
fi
