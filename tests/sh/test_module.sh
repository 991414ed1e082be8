#!/bin/sh
# test_module.sh - llfc loads as a plain Lua 5.4 module, built and installed.
b=${LLFC_BUILDDIR:-.}
if [ -n "$LLFC_SANITIZE" ]; then
  # a sanitizer-built module cannot be loaded by an uninstrumented lua5.4
  echo "skip - lua5.4 cannot load a module built with $LLFC_SANITIZE"; exit 0
fi
if ! command -v lua5.4 >/dev/null 2>&1; then echo "skip - lua5.4 not installed"; exit 0; fi
out=$(cd / && LUA_CPATH="$b/.libs/?.so" lua5.4 -e 'local l = require "llfc"; print(type(l.tensor), type(l.nn), l.version)' 2>&1)
case $out in
  "table	table	"[0-9]*) echo "ok - require \"llfc\" from lua5.4 (build tree)";;
  *) echo "not ok - require \"llfc\" from lua5.4: $out";;
esac
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if make -s -C "$b" install DESTDIR="$dest" >/dev/null 2>&1; then
  so=$(find "$dest" -name llfc.so | head -n 1)
  if [ -n "$so" ] && [ -z "$(find "$dest" -name 'llfc.la')" ]; then echo "ok - make install puts llfc.so (and no .la) in place"; else echo "not ok - make install: llfc.so missing or llfc.la left"; fi
  man=$(find "$dest" -name llfc.1 | head -n 1)
  [ -n "$man" ] && echo "ok - make install installs the man page" || echo "not ok - man page not installed"
  # the demo and experiment scripts under $(pkgdatadir) (.../share/llfc)
  s=${LLFC_SRCDIR:-.}
  want=0 have=0
  for f in "$s"/lua/demos/*.lua "$s"/lua/experiments/*.lua; do
    sub=$(basename "$(dirname "$f")")
    want=$((want + 1))
    inst=$(find "$dest" -path "*/share/llfc/$sub/$(basename "$f")" | head -n 1)
    [ -n "$inst" ] && cmp -s "$f" "$inst" && have=$((have + 1))
  done
  [ "$want" -gt 0 ] && [ "$have" -eq "$want" ] &&
    echo "ok - make install puts the $want demo and experiment scripts under share/llfc" ||
    echo "not ok - make install: $have of $want demo and experiment scripts under share/llfc"
  out=$(cd / && LUA_CPATH="$(dirname "$so")/?.so" lua5.4 -e 'print(require("llfc").version)' 2>&1)
  case $out in [0-9]*) echo "ok - installed module loads";; *) echo "not ok - installed module: $out";; esac
else
  echo "not ok - make install failed"
fi
