#!/bin/sh
# test_repl.sh - the llfc binary's command line and its REPL on piped input.
# Prints "ok - ..." / "not ok - ..." lines (counted by tests/run).
LLFC=${LLFC:-./llfc}
case $LLFC in /*) ;; *) LLFC=$(pwd)/$LLFC ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LLFC_HISTORY=    # never touch the user's history file
fails=0

ok() { echo "ok - $1"; }
notok() { echo "not ok - $1: $2"; fails=$((fails + 1)); }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "expected [$2], got [$3]"; fi; }
# has NAME PATTERN FILE: FILE contains the fixed string PATTERN
has() { if grep -qF -- "$2" "$3"; then ok "$1"; else notok "$1" "no [$2] in [$(head -c 400 "$3")]"; fi; }

tab=$(printf '\t')

# --- the REPL on piped input ----------------------------------------------------
check "piped 1+1 prints 2" "2" "$(echo '1+1' | "$LLFC")"
check "trailing ; prints nothing" "" "$(echo 'x = 3;' | "$LLFC")"
check "f(); with a trailing ; prints nothing" "" "$(printf 'function f() return 1 end\nf();\n' | "$LLFC")"
check "assignment then expression" "3" "$(printf 'x = 3\nx\n' | "$LLFC")"
check "several values are tab separated" "1${tab}a${tab}nil${tab}true" "$(echo '1, "a", nil, true' | "$LLFC")"
check "a multi-line value puts every value on lines of its own" "x
y
z
3" "$(printf '%s\n' 'setmetatable({}, {__tostring = function() return "x\ny" end}), "z", 3' | "$LLFC")"
out=$(printf 'a, b = nn.mlp{2, 3, 2}, nn.mlp{2, 4, 2}\na, b\n' | "$LLFC")
first=$(printf '%s\n' "$out" | grep -c "^llfc.Net mlp")
if [ "$first" -eq 2 ] && ! printf '%s' "$out" | grep -q "$tab"; then ok "two nets print one after the other, each from the start of a line"
else notok "two nets print one after the other, each from the start of a line" "[$out]"; fi
out=$(echo '{}' | "$LLFC")
case $out in "table: 0x"*) ok "a table prints through tostring" ;; *) notok "a table prints through tostring" "[$out]" ;; esac
out=$(echo 'setmetatable({}, {__tostring = function() return "obj!" end})' | "$LLFC")
check "__tostring is used" "obj!" "$out"
check "statements print nothing" "" "$(echo 'local a = 1' | "$LLFC")"
check "print still prints" "hi" "$(echo 'print("hi")' | "$LLFC")"

printf 'function sq(a)\n  local r = a * a\n  return r\nend\nsq(7)\n' > "$tmp/multi.txt"
check "multi-line function definition" "49" "$("$LLFC" < "$tmp/multi.txt")"
check "multi-line expression" "3" "$(printf 't = {1,\n2,\n3}\n#t\n' | "$LLFC")"
check "multi-line expression in return form" "6" "$(printf '(1 +\n2 +\n3)\n' | "$LLFC")"
check "for loop over lines" "6" "$(printf 's = 0\nfor i = 1, 3 do\ns = s + i\nend\ns\n' | "$LLFC")"

printf 'error("boom")\nprint("after")\ny = nil + 1\n"still here"\n' | "$LLFC" > "$tmp/out" 2> "$tmp/err"
rc=$?
check "an error does not stop the REPL" "after
still here" "$(cat "$tmp/out")"
has "the error message goes to stderr" "stdin:1: boom" "$tmp/err"
has "a runtime error names the operation" "attempt to perform arithmetic on a nil value" "$tmp/err"
if grep -q "stack traceback" "$tmp/err"; then notok "no traceback for errors in the typed line" "$(cat "$tmp/err")"; else ok "no traceback for errors in the typed line"; fi
check "piped REPL exits 1 after an error" "1" "$rc"
echo 'x = 1' | "$LLFC" > /dev/null 2>&1
check "piped REPL exits 0 without errors" "0" "$?"

printf 'function bad()\n  error("deep")\nend\nbad()\n' | "$LLFC" > /dev/null 2> "$tmp/err"
has "an error inside a function shows a traceback" "in function 'bad'" "$tmp/err"
# errors raised by llfc's own code (C or its embedded Lua modules such as the view) on bad
# arguments print the message alone, one style per function
printf 'view.plot(42)\nview.save({kind = "interpolate", alphas = 3}, "a.svg")\nview.text({kind = "interpolate", alphas = {0, 1}, err = {0, 0}, loss = {0, 0}}, {panel = 9})\ntensor.zeros("x")\n' |
  "$LLFC" > /dev/null 2> "$tmp/err"
if grep -q "stack traceback\|\[llfc\]" "$tmp/err"; then notok "view.* errors print no internal traceback" "$(cat "$tmp/err")"; else ok "view.* errors print no internal traceback"; fi
has "view.plot of a number says what it expects" "view.plot: expected a result table" "$tmp/err"
has "view.save of a malformed result names view.save" "view.save: malformed interpolate result" "$tmp/err"
has "a bad panel names the function" "view.text: panel 9 out of range" "$tmp/err"
printf 'function g() view.plot(42) end\ng()\n' | "$LLFC" > /dev/null 2> "$tmp/err"
has "an llfc error inside the user's own function still shows the traceback" "in function 'g'" "$tmp/err"
printf 'print(view.save({kind = "interpolate", alphas = {0, 1}, err = {0, 0}, loss = {0, 0}}, "%s/missing/a.svg"))\n' "$tmp" |
  "$LLFC" > "$tmp/out" 2>&1
has "view.save on an unwritable path: nil and a message naming view.save" "nil${tab}view.save: $tmp/missing/a.svg:" "$tmp/out"
printf 'x = = 1\n' | "$LLFC" > /dev/null 2> "$tmp/err"
has "a syntax error is reported" "unexpected symbol near '='" "$tmp/err"
printf 'function f(\n' | "$LLFC" > /dev/null 2> "$tmp/err"
rc=$?
has "an incomplete statement at end of input is reported" "<eof>" "$tmp/err"
check "an incomplete statement at end of input fails" "1" "$rc"

# --- -e, scripts and arg -----------------------------------------------------------
check "-e runs code" "5" "$("$LLFC" -e 'print(2 + 3)')"
check "several -e run in order" "1
2" "$("$LLFC" -e 'print(1)' -e 'print(2)')"
check "-eCODE (attached) works" "7" "$("$LLFC" '-eprint(7)')"
check "-e sees earlier -e" "4" "$("$LLFC" -e 'z = 4' -e 'print(z)')"
"$LLFC" -e 'error("bang")' > /dev/null 2> "$tmp/err"
check "-e error exits 1" "1" "$?"
has "-e error message" "llfc: (command line):1: bang" "$tmp/err"
has "-e error has a traceback" "stack traceback:" "$tmp/err"
"$LLFC" -e 'x = (' > /dev/null 2> "$tmp/err"
check "-e syntax error exits 1" "1" "$?"
check "-e error stops later -e" "" "$("$LLFC" -e 'error("x")' -e 'print("no")' 2> /dev/null)"

cat > "$tmp/s.lua" <<'EOF'
print(arg[0], arg[1], arg[2], #arg, select("#", ...), ...)
print(arg[-1], arg[-2], arg[-3])
EOF
out=$("$LLFC" -e 'x = 1' "$tmp/s.lua" a "b c" | head -n 1)
check "script gets arg[0], arg[1..] and ..." "$tmp/s.lua${tab}a${tab}b c${tab}2${tab}2${tab}a${tab}b c" "$out"
out=$("$LLFC" -e 'x = 1' "$tmp/s.lua" a | tail -n 1)
check "interpreter and options at negative indices" "x = 1${tab}-e${tab}$LLFC" "$out"
out=$("$LLFC" "$tmp/s.lua" -e | head -n 1)
check "options after the script are the script's" "$tmp/s.lua${tab}-e${tab}nil${tab}1${tab}1${tab}-e" "$out"
check "arg without a script" "$LLFC${tab}-e" "$("$LLFC" -e 'print(arg[0], arg[1])')"
out=$(echo 'print(arg[0], ...)' | "$LLFC" - p q)
check "- runs the script from stdin" "-${tab}p${tab}q" "$out"
printf 'print("dash file")\n' > "$tmp/-"
out=$(cd "$tmp" && "$LLFC" -- - < /dev/null)
check "-- then - names a file called -" "dash file" "$out"

printf 'local t = {}\nprint("start")\nt.x.y = 1\n' > "$tmp/bad.lua"
"$LLFC" "$tmp/bad.lua" > "$tmp/out" 2> "$tmp/err"
check "script error exits 1" "1" "$?"
has "script error names file and line" "bad.lua:3: attempt to index a nil value" "$tmp/err"
has "script error has a traceback" "in main chunk" "$tmp/err"
"$LLFC" "$tmp/nonexistent.lua" 2> "$tmp/err"
check "missing script exits 1" "1" "$?"
has "missing script message" "cannot open" "$tmp/err"

printf 'y = 5\n' > "$tmp/y.lua"
check "-i runs the script then reads statements" "6" "$(echo 'y + 1' | "$LLFC" -i "$tmp/y.lua")"
check "-i after -e" "10" "$(echo 'z * 2' | "$LLFC" -e 'z = 5' -i)"

mkdir -p "$tmp/mods"
printf 'return {v = 42}\n' > "$tmp/mods/mymod.lua"
check "-l NAME requires a module into a global" "42" "$(LUA_PATH="$tmp/mods/?.lua;;" "$LLFC" -l mymod -e 'print(mymod.v)')"

# --- --help, --version, bad options ------------------------------------------------------
"$LLFC" --help > "$tmp/out" 2>&1
check "--help exits 0" "0" "$?"
has "--help shows usage" "usage: llfc [options] [script.lua [args]]" "$tmp/out"
has "--help lists -e" "-e CODE" "$tmp/out"
has "--help lists -i" "-i " "$tmp/out"
out=$("$LLFC" --version)
check "--version exits 0" "0" "$?"
case $out in "llfc "[0-9]*"(Lua 5.4"*) ok "--version names llfc and Lua" ;; *) notok "--version names llfc and Lua" "[$out]" ;; esac
check "-v is --version" "$out" "$("$LLFC" -v)"
"$LLFC" --bogus > /dev/null 2> "$tmp/err"
check "unknown option exits 2" "2" "$?"
has "unknown option is named" "unknown option '--bogus'" "$tmp/err"
"$LLFC" -e > /dev/null 2> "$tmp/err"
check "-e without code exits 2" "2" "$?"

# --- help is there in scripts and for require "llfc" -----------------------------------------
check "help is a global" "function${tab}true" "$("$LLFC" -e 'print(type(help), help == llfc.help)')"

# --- Ctrl-C in batch mode ----------------------------------------------------------
# wait_file FILE PATTERN: poll up to 5 s
wait_file() {
  n=0
  while [ $n -lt 100 ]; do
    grep -q "$2" "$1" 2> /dev/null && return 0
    sleep 0.05; n=$((n + 1))
  done
  return 1
}
"$LLFC" -e 'io.stderr:write("ready\n") while true do end' > /dev/null 2> "$tmp/err" &
pid=$!
if wait_file "$tmp/err" ready; then
  kill -INT $pid
  wait $pid
  rc=$?
  check "SIGINT interrupts a script: exit 1" "1" "$rc"
  has "SIGINT interrupts a script: message" "interrupted!" "$tmp/err"
else
  kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
  notok "SIGINT interrupts a script" "script did not start"
fi
# a script that swallows the first interrupt is ended by the second
"$LLFC" -e 'io.stderr:write("ready\n") while true do pcall(function() while true do end end) io.stderr:write("caught\n") end' \
  > /dev/null 2> "$tmp/err" &
pid=$!
if wait_file "$tmp/err" ready; then
  kill -INT $pid
  wait_file "$tmp/err" caught
  kill -INT $pid
  n=0
  while kill -0 $pid 2> /dev/null && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
  if kill -0 $pid 2> /dev/null; then
    kill -9 $pid; wait $pid 2> /dev/null
    notok "a second SIGINT ends a script" "still running"
  else
    wait $pid
    check "a second SIGINT ends a script (killed by SIGINT)" "130" "$?"
  fi
else
  kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
  notok "a second SIGINT ends a script" "script did not start"
fi

[ $fails -eq 0 ]
