#!/bin/sh
# test_save.sh - every save reaches the disk before it replaces the old file:
# the temporary file (NAME.tmp.PID.XXXXXX) is fsync'ed, renamed over NAME,
# and the directory is fsync'ed after the rename.  Observed with strace.
LLFC=${LLFC:-./llfc}
case $LLFC in /*) ;; *) LLFC=$(pwd)/$LLFC ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! command -v strace > /dev/null 2>&1; then
  echo "skip - saves fsync the file and its directory: strace not installed (scripts/setup installs it)"
  exit 0
fi
if ! strace -f -o /dev/null true > /dev/null 2>&1; then
  echo "skip - saves fsync the file and its directory: strace cannot trace processes here (ptrace not permitted)"
  exit 0
fi

# LeakSanitizer cannot run under ptrace: off for the traced runs of a sanitizer build
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
export ASAN_OPTIONS

# NAME TARGET LUA-CODE
check() {
  name=$1; target=$2; code=$3
  strace -f -e trace=openat,fsync,rename -o "$tmp/trace" "$LLFC" -e "$code" > "$tmp/out" 2>&1
  # the calls in order: open of NAME.tmp.PID.*, fsync of that fd, rename to NAME, open of the
  # directory, fsync of that fd
  if awk -v t="$target" -v d="$tmp" '
    $2 ~ /^openat/ && index($0, "\"" t ".tmp.") && !tmpfd { split($0, a, "= "); tmpfd = a[2] + 0; pid = $1; next }
    tmpfd && !synced && $2 == "fsync(" tmpfd ")" && $NF == 0 { synced = 1; next }
    synced && !renamed && $2 ~ /^rename/ && index($0, "\"" t "\")") && $NF == 0 { renamed = 1; next }
    renamed && !dirfd && $2 ~ /^openat/ && index($0, "\"" d "\", O_RDONLY|O_DIRECTORY") { split($0, a, "= "); dirfd = a[2] + 0; next }
    dirfd && $2 == "fsync(" dirfd ")" { ok = 1 }
    END { exit ok ? 0 : 1 }' "$tmp/trace"; then
    echo "ok - $name: fsync of the temporary file, rename, fsync of the directory"
  else
    echo "not ok - $name: no fsync/rename/fsync sequence"
    grep -v "ENOENT\|\.so\|/usr/\|/proc/\|/sys/\|/etc/\|/dev/" "$tmp/trace" | tail -n 12 | sed 's/^/    /'
  fi
  ls -A "$tmp" | grep -q "\.tmp\." && echo "not ok - $name: a temporary file is left" || echo "ok - $name: no temporary file left"
}

check "Net:save" "$tmp/n.safetensors" "assert(nn.mlp{2, 3, 2}:save('$tmp/n.safetensors'))"
check "Tensor:save" "$tmp/t.npy" "assert(tensor.ones{2, 2}:save('$tmp/t.npy'))"
check "data.safetensors_write" "$tmp/w.safetensors" "assert(data.safetensors_write('$tmp/w.safetensors', {w = tensor.ones{2}}))"
check "llfc.write" "$tmp/notes.txt" "assert(llfc.write('$tmp/notes.txt', 'x'))"
check "view.save" "$tmp/c.csv" "assert(view.save({kind = 'interpolate', alphas = {0, 1}, err = {0, 0}, loss = {1, 1}}, '$tmp/c.csv'))"
