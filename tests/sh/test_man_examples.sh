#!/bin/sh
# test_man_examples.sh - run every example of man/llfc.1 (the blocks between
# the lines '.\" example-begin' and '.\" example-end') through llfc, each in
# an empty temporary directory: it must exit 0, and its output must contain
# the text of each '.\" example-expect: TEXT' line of the block.
b=${LLFC_BUILDDIR:-.}
s=${LLFC_SRCDIR:-.}
llfc=$(cd "$b" && pwd)/llfc
man="$s/man/llfc.1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# split the examples into ex1.lua, ex2.lua, ... (roff requests dropped,
# \- and \e unescaped) and their expectations into ex1.expect, ...
awk -v dir="$tmp" '
  $0 == ".\\\" example-begin" { n++; inex = 1; f = dir "/ex" n ".lua"; e = dir "/ex" n ".expect";
                               printf "" > f; printf "" > e; next }
  $0 == ".\\\" example-end" { inex = 0; close(f); close(e); next }
  inex && /^\.\\" example-expect: / { sub(/^\.\\" example-expect: /, ""); print > e; next }
  inex && /^[.\x27]/ { next }
  inex { gsub(/\\-/, "-"); gsub(/\\e/, "\\"); print > f }
' "$man"
n=$(ls "$tmp"/ex*.lua 2>/dev/null | wc -l)
[ "$n" -ge 5 ] && echo "ok - man/llfc.1 has $n examples" || echo "not ok - man/llfc.1 has $n examples (want >= 5)"
i=1
while [ "$i" -le "$n" ]; do
  f="$tmp/ex$i.lua"
  first=$(head -n 1 "$f")
  d="$tmp/run$i"; mkdir -p "$d"
  if (cd "$d" && "$llfc" "$f" < /dev/null > "$tmp/out$i" 2>&1); then
    ok=1
    while IFS= read -r want; do
      [ -z "$want" ] && continue
      if ! grep -qF -- "$want" "$tmp/out$i"; then
        ok=0; echo "not ok - man example $i ($first): output lacks '$want'"
      fi
    done < "$tmp/ex$i.expect"
    [ "$ok" -eq 1 ] && echo "ok - man example $i runs: $first"
  else
    echo "not ok - man example $i fails: $first"
    tail -n 10 "$tmp/out$i" | sed 's/^/    /'
  fi
  i=$((i + 1))
done
# The README's five-minute tour: its ```lua blocks, in order, as one script.
readme="$s/README.md"
awk '/^```lua$/ { f = 1; next } /^```$/ { f = 0 } f' "$readme" > "$tmp/readme.lua"
nb=$(grep -c '^```lua$' "$readme")
[ "$nb" -ge 5 ] && echo "ok - README has $nb Lua blocks" || echo "not ok - README has $nb Lua blocks (want >= 5)"
mkdir -p "$tmp/readme"
if (cd "$tmp/readme" && "$llfc" "$tmp/readme.lua" < /dev/null > "$tmp/readme.out" 2>&1); then
  echo "ok - the README's Lua blocks run"
else
  echo "not ok - the README's Lua blocks fail"; tail -n 10 "$tmp/readme.out" | sed 's/^/    /'
fi
# print(c.barrier.err, "->", c2.barrier.err): the barrier fell after matching
line=$(grep -- '->' "$tmp/readme.out" | grep -v '[a-z]' | head -n 1)
if printf '%s\n' "$line" | awk -F'\t' '{ exit !($3 + 0 < $1 + 0 && $1 + 0 > 0.05) }' && [ -n "$line" ]; then
  echo "ok - README tour: the barrier falls with weight matching ($line)"
else
  echo "not ok - README tour: barrier line '$line'"
fi
if head -c 5 "$tmp/readme/report.pdf" 2>/dev/null | grep -q '%PDF-' && [ -s "$tmp/readme/matching.png" ]; then
  echo "ok - README tour writes report.pdf and matching.png"
else echo "not ok - README tour wrote no report.pdf or matching.png"; fi
# docs/TUTORIAL.md: its ```lua blocks, in order, as one script.
tut="$s/docs/TUTORIAL.md"
if [ -f "$tut" ]; then
  awk '/^```lua$/ { f = 1; next } /^```$/ { f = 0 } f' "$tut" > "$tmp/tutorial.lua"
  mkdir -p "$tmp/tutorial"
  if (cd "$tmp/tutorial" && "$llfc" "$tmp/tutorial.lua" < /dev/null > "$tmp/tutorial.out" 2>&1); then
    echo "ok - the tutorial's Lua blocks run"
  else
    echo "not ok - the tutorial's Lua blocks fail"; tail -n 10 "$tmp/tutorial.out" | sed 's/^/    /'
  fi
  # the hand-computed mean 1 - cos_alpha (tensor ops) against metrics.llfc
  line=$(grep "	=	" "$tmp/tutorial.out" | head -n 1)
  if [ -n "$line" ] && printf '%s\n' "$line" | awk -F'\t' '{ d = $1 - $3; if (d < 0) d = -d; exit !(d < 1e-5 && $3 > 0) }'; then
    echo "ok - tutorial: 1 - cos_alpha by hand equals metrics.llfc ($line)"
  else
    echo "not ok - tutorial: by-hand line '$line'"
  fi
fi
