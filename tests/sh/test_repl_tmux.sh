#!/bin/sh
# test_repl_tmux.sh - the REPL in a real terminal: llfc runs in a detached
# tmux session (private socket, fixed size); keys are sent with send-keys and
# the screen is polled with capture-pane.  Checks typing, Tab completion,
# Ctrl-C at the prompt and during a Lua loop, nn.pair's progress lines, the
# history file, Ctrl-D.
# Every wait is bounded; the tmux server is killed on every path.
LLFC=${LLFC:-./llfc}
case $LLFC in /*) ;; *) LLFC=$(pwd)/$LLFC ;; esac
if ! command -v tmux > /dev/null 2>&1; then
  echo "skip - tmux is not installed"
  exit 0
fi
tmp=$(mktemp -d)
# sockets in a directory of our own (a shared /tmp/tmux-UID whose permissions
# another program changed makes tmux refuse to start)
TMUX_TMPDIR=$tmp; export TMUX_TMPDIR
unset TMUX
sock=llfc-test-$$
T() { timeout 10 tmux -L "$sock" "$@"; }
cleanup() { T kill-server > /dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1: $2"; fails=$((fails + 1)); }

screen() { T capture-pane -p -t llfc 2> /dev/null; }
# wait_for NAME GREP-E-PATTERN: poll the screen up to 5 s
wait_for() {
  n=0
  while [ $n -lt 100 ]; do
    if screen | grep -qE -- "$2"; then ok "$1"; return 0; fi
    sleep 0.05; n=$((n + 1))
  done
  notok "$1" "no /$2/ on screen:
$(screen | grep -v '^$' | tail -n 8)"
  return 1
}
# count of screen lines matching a pattern
count() { screen | grep -cE -- "$1"; }
# wait_count NAME PATTERN N: wait until at least N lines match
wait_count() {
  n=0
  while [ $n -lt 100 ]; do
    if [ "$(count "$2")" -ge "$3" ]; then ok "$1"; return 0; fi
    sleep 0.05; n=$((n + 1))
  done
  notok "$1" "fewer than $3 lines match /$2/:
$(screen | grep -v '^$' | tail -n 8)"
  return 1
}
keys() { T send-keys -t llfc "$@"; }          # key names: Enter, Tab, C-c
text() { T send-keys -t llfc -l "$1"; }       # literal text ("end" is not the End key)

T new-session -d -s llfc -x 100 -y 40 \
  "env LLFC_HISTORY='$tmp/hist' NO_COLOR=1 INPUTRC=/dev/null '$LLFC'; echo EXIT=\$?; sleep 20" || {
  notok "tmux session starts" "tmux new-session failed"; exit 1; }

if ! wait_for "REPL shows its prompt" '^llfc> ?$'; then exit 1; fi

text 'x = 41'; keys Enter
text 'x + 1'; keys Enter
wait_for "an expression prints its value" '^42$'

# Tab completion: a global table gets '.', a function '(', methods via ':'
text 'tens'; keys Tab
wait_for "Tab completes a global table with ." '^llfc> tensor\.$'
keys C-u; text 'string.up'; keys Tab
wait_for "Tab completes a field, a function gets (" '^llfc> string\.upper\($'
keys C-u; text 's = "abc"'; keys Enter
text 's:up'; keys Tab
wait_for "Tab completes methods through the metatable's __index" '^llfc> s:upper\($'
text ')'; keys Enter
wait_for "the completed call runs" '^ABC$'

# Ctrl-C in the middle of a line clears it and shows a fresh prompt
text 'abc def'
wait_for "typed text shows" '^llfc> abc def$'
keys C-c
wait_for "Ctrl-C mid-line gives a fresh prompt" '^llfc> ?$'
text 'x'; keys Enter
wait_count "the line was discarded (x still 41)" '^41$' 1

# Ctrl-C during a Lua loop returns to the prompt with objects intact
text 'while true do x = x end'; keys Enter
sleep 0.3
keys C-c
wait_for "Ctrl-C interrupts a running loop" 'interrupted!'
text 'x * 2'; keys Enter
wait_for "variables survive the interrupt" '^82$'

# an incomplete statement continues on the next line; Ctrl-C discards it
text 'function g()'; keys Enter
wait_for "an incomplete statement shows the continuation prompt" '^\.\.\.> ?$'
keys C-c
text 'return 1 end'; keys Enter
wait_for "Ctrl-C discards the incomplete statement" "<eof>' expected near 'end'|'end' expected|unexpected symbol near 'end'|near 'end'"

# multi-line definition then a call
# typed without waiting for the prompts: keys typed ahead are kept
text 'function h(a)'; keys Enter; text 'return a + 1'; keys Enter; text 'end'; keys Enter
text 'h(9)'; keys Enter
wait_for "a multi-line function works" '^10$'

# nn.pair's progress: one line per net, updated in place (not one per epoch)
text 'a, b = nn.pair({2, 8, 2}, data.blobs{n = 60, dim = 2, classes = 2, seed = 1}, {epochs = 10, batch = 20}); print("PAIR", a ~= nil, b ~= nil)'
keys Enter
n=0
while [ $n -lt 600 ] && ! screen | grep -q '^PAIR'; do sleep 0.05; n=$((n + 1)); done
wait_for "nn.pair trains both nets" '^PAIR[[:space:]]+true[[:space:]]+true$'
if [ "$(count '^net a epoch')" -eq 1 ] && [ "$(count '^net b epoch')" -eq 1 ] &&
   [ "$(count '^net [ab] epoch 10/10 .* 100% ')" -eq 2 ]; then
  ok "nn.pair shows one progress line per net, ending at epoch 10/10"
else
  notok "nn.pair shows one progress line per net, ending at epoch 10/10" "$(screen | grep -v '^$' | tail -n 24)"
fi

# Ctrl-D exits with status 0 and the history was written
keys C-d
wait_for "Ctrl-D exits with status 0" '^EXIT=0$'
if grep -qx 'x = 41' "$tmp/hist" 2> /dev/null && grep -qx 'return a + 1' "$tmp/hist"; then
  ok "the history file keeps single and multi-line statements"
else
  notok "the history file keeps single and multi-line statements" "$(cat "$tmp/hist" 2>&1 | head -n 20)"
fi

[ $fails -eq 0 ]
