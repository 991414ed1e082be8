#!/bin/sh
# test_hostile.sh - the generated robustness sweep (tests/lua/hostile.lua): every
# function and method help() lists, called with each argument in turn
# replaced by hostile values.  This driver gives each call a time limit: past
# it the call gets Ctrl-C (SIGINT, as a user would press it); a call that has
# not returned LLFC_HOSTILE_GRACE seconds later is killed and reported as a
# hang, a call that kills the process is reported as a crash, and the sweep
# resumes after it.  It runs in an empty directory, which must stay empty of
# anything but its own scratch files, with allocations capped at
# LLFC_MAX_ALLOC=256M.  Prints the number of calls made.
LLFC=${LLFC:-./llfc}
case $LLFC in /*) ;; *) LLFC=$(pwd)/$LLFC ;; esac
s=${LLFC_SRCDIR:-.}
s=$(cd "$s" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# seconds per call before Ctrl-C (slower under the sanitizers), and after it
limit=${LLFC_HOSTILE_LIMIT:-2}
[ -n "$LLFC_SANITIZE" ] && limit=${LLFC_HOSTILE_LIMIT:-6}
grace=${LLFC_HOSTILE_GRACE:-10}
mkdir "$tmp/cwd" "$tmp/scratch"
export HOSTILE_OUT="$tmp/out" HOSTILE_STATUS="$tmp/status" HOSTILE_DIR="$tmp/scratch" LLFC_MAX_ALLOC=256M
: > "$tmp/out"; : > "$tmp/limited"
start=1 runs=0 crashes=0
while :; do
  runs=$((runs + 1))
  : > "$tmp/status"
  (cd "$tmp/cwd" && HOSTILE_START=$start exec "$LLFC" "$s/tests/lua/hostile.lua" < /dev/null > "$tmp/log" 2>&1) &
  pid=$!
  last= since=$(date +%s) sent=0 hung=0
  while kill -0 "$pid" 2> /dev/null; do
    sleep 0.1
    cur=$(head -n 1 "$tmp/status" 2> /dev/null | cut -f 1)
    now=$(date +%s)
    if [ "$cur" != "$last" ]; then last=$cur since=$now sent=0; continue; fi
    case $cur in done|'') continue ;; esac
    if [ "$sent" -eq 0 ] && [ $((now - since)) -ge "$limit" ] &&
       [ "$(head -n 1 "$tmp/status" 2> /dev/null | cut -f 1)" = "$cur" ]; then
      kill -INT "$pid" 2> /dev/null; sent=1
      head -n 1 "$tmp/status" | cut -f 2 >> "$tmp/limited"
    fi
    if [ $((now - since)) -ge $((limit + grace)) ]; then kill -KILL "$pid" 2> /dev/null; hung=1; break; fi
  done
  wait "$pid"
  rc=$?
  line=$(head -n 1 "$tmp/status")
  case $line in done*) break ;; esac
  # the process ended in the middle of a call: report it, go on after it
  k=$(printf '%s' "$line" | cut -f 1) desc=$(printf '%s' "$line" | cut -f 2) known=$(printf '%s' "$line" | cut -f 3)
  if [ -z "$k" ]; then
    echo "not ok - the sweep stopped before its first call (exit $rc)"; tail -n 15 "$tmp/log" | sed 's/^/    /'
    break
  fi
  if [ "$hung" -eq 1 ]; then what="hangs: no return ${grace} s after Ctrl-C"
  elif [ "$rc" -gt 128 ]; then what="kills llfc (signal $((rc - 128)))"
  else what="ends llfc (exit $rc)"; fi
  case $known in
    crash*|hang*) known_ok=1 ;;
    *) known_ok=0 ;;
  esac
  if [ "$known_ok" -eq 1 ]; then echo "ok - known failure (KNOWN_FAILURES): $desc $what: $known"
  else
    crashes=$((crashes + 1))
    echo "not ok - $desc $what"; tail -n 8 "$tmp/log" | sed 's/^/    /'
  fi
  start=$((k + 1))
  [ "$runs" -ge 200 ] && { echo "not ok - the sweep restarted 200 times: giving up"; break; }
done
cat "$tmp/out"
line=$(head -n 1 "$tmp/status")
case $line in
  done*)
    ncalls=$(printf '%s' "$line" | cut -f 3) nfuncs=$(printf '%s' "$line" | cut -f 4)
    nlim=$(grep -c . "$tmp/limited")
    echo "ok - swept $nfuncs functions with $ncalls hostile calls ($nlim stopped by Ctrl-C at the ${limit} s limit, $crashes crashes or hangs, $((runs - 1)) restarts)"
    [ "$nlim" -gt 0 ] && echo "ok - ran past the limit and returned on Ctrl-C: $(sort -u "$tmp/limited" | paste -sd ';' | sed 's/;/; /g')"
    [ "$ncalls" -ge 5000 ] && echo "ok - at least 5000 calls" || echo "not ok - at least 5000 calls: $ncalls" ;;
  *) echo "not ok - the sweep did not finish" ;;
esac
# a sanitizer's report (a leak at exit) fails the run it ends
if grep -q "LeakSanitizer\|AddressSanitizer\|runtime error:" "$tmp/log"; then
  echo "not ok - the sanitizers report on the sweep"; grep -A 12 "Sanitizer\|runtime error:" "$tmp/log" | head -n 30 | sed 's/^/    /'
else
  echo "ok - no sanitizer report"
fi
left=$(ls -A "$tmp/cwd")
[ -z "$left" ] && echo "ok - no file is left in the working directory" || echo "not ok - files left in the working directory: $left"
