#!/bin/sh
# test_live_tmux.sh - the live view and Ctrl-C as a user meets them: the real
# REPL in a detached tmux session (private socket and socket directory, fixed
# size, UTF-8).  A live metrics.llfc view updates its status line and q
# returns the partial result to the prompt; Ctrl-C in a live view does the
# same and leaves the terminal sane; Ctrl-C in net:train returns a partial
# history and the network still evaluates; Ctrl-C in a long metrics.report
# and in perm.weight_match returns to the prompt (weight matching with the
# permutation so far) with every object usable.
# Every wait is bounded; the tmux server is killed on every path.
LLFC=${LLFC:-./llfc}
case $LLFC in /*) ;; *) LLFC=$(pwd)/$LLFC ;; esac
if ! command -v tmux > /dev/null 2>&1; then
  echo "skip - tmux is not installed"
  exit 0
fi
tmp=$(mktemp -d)
# a socket directory of our own: a shared /tmp/tmux-UID with other
# permissions makes tmux refuse to start
TMUX_TMPDIR=$tmp; export TMUX_TMPDIR
unset TMUX
sock=llfc-live-$$
T() { timeout 10 tmux -L "$sock" "$@"; }
cleanup() { T kill-server > /dev/null 2>&1; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
fails=0
ok() { echo "ok - $1"; }
notok() { echo "not ok - $1: $2"; fails=$((fails + 1)); }
screen() { T capture-pane -p -t live 2> /dev/null; }
last() { screen | grep -v '^ *$' | tail -n 1; }
keys() { T send-keys -t live "$@"; }
line() { T send-keys -t live -l "$1"; T send-keys -t live Enter; }
# poll PATTERN [tenths]: wait until the screen shows PATTERN (grep -E)
poll() {
  i=0
  while [ "$i" -lt "${2:-80}" ]; do
    screen | grep -qE -- "$1" && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
# prompt [tenths]: wait until the last line is an empty prompt
prompt() {
  i=0
  while [ "$i" -lt "${1:-80}" ]; do
    last | grep -qE '^llfc> ?$' && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
show() { screen | grep -v '^ *$' | tail -n "${1:-6}" | sed 's/^/#   /'; }
check() { # name, pattern, [tenths]
  if poll "$2" "$3"; then ok "$1"; else notok "$1" "no /$2/ on screen"; show; fi
}

# sizes: long enough that nothing finishes before we interrupt it (q and
# Ctrl-C stop it early), small enough to set up in well under a second
cat > "$tmp/setup.lua" <<'LUA'
ds = data.blobs{n = 400000, classes = 4, dim = 8}
a = nn.mlp{8, 256, 256, 256, 4, seed = 1}
b = nn.mlp{8, 256, 256, 256, 4, seed = 2}
function sane()
  local p = io.popen("stty -a 2>&1")
  local s = p:read("a"); p:close()
  s = " " .. s:gsub("[;\n]", " ") .. " "
  return s:find(" echo ", 1, true) ~= nil and s:find(" icanon ", 1, true) ~= nil
end
print("SETUP " .. #ds)
LUA
T -f /dev/null new-session -d -s live -x 100 -y 30 \
  "cd '$tmp' && env -u CI -u LLFC_VIEW LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color LLFC_HISTORY='$tmp/hist' \
   NO_COLOR=1 INPUTRC=/dev/null '$LLFC' -i setup.lua; echo EXIT=\$?; sleep 30" || {
  notok "tmux session starts" "tmux new-session failed"; exit 1; }
if poll '^SETUP 400000' 100 && prompt 50; then ok "REPL starts with the setup script"
else notok "REPL starts with the setup script" "no prompt"; show; exit 1; fi

# 1. a live metrics.llfc view: the status line advances, q returns the partial result
line 'r = metrics.llfc(a, b, ds, {alphas = {.1, .2, .3, .4, .5, .6, .7, .8, .9}, batch = 250, view = true})'
if poll 'samples \([0-9]+%\)' 80; then
  first=$(screen | grep -oE '[0-9]+/400000 samples' | head -n 1)
  i=0; second=$first
  while [ "$i" -lt 60 ] && [ "$second" = "$first" ]; do
    sleep 0.1; i=$((i + 1))
    second=$(screen | grep -oE '[0-9]+/400000 samples' | head -n 1)
  done
  if [ -n "$second" ] && [ "$second" != "$first" ]; then ok "live llfc view: the status line advances ($first, then $second)"
  else notok "live llfc view: the status line advances" "stuck at '$first'"; show 3; fi
else notok "live llfc view: the status line shows samples n/total" "no status"; show; fi
if screen | grep -q 'llfc view:' && screen | grep -q 'h1' && screen | grep -q '██'; then
  ok "live llfc view: bars per layer on screen"
else notok "live llfc view: bars per layer on screen" "no bars"; show 12; fi
# a resize while it computes: the next frame is laid out for 70 columns (all
# four layer groups, the last one 'logits', fit; a stale 100-column frame
# would be cut off before it), with the header on the first line
T resize-window -t live -x 70 -y 20 > /dev/null 2>&1 || T resize-pane -t live -x 70 -y 20 > /dev/null 2>&1
fits() { screen | head -n 1 | grep -q '^ llfc view:' && screen | grep -q 'h1.*h2.*h3.*logits' \
         && screen | grep -q 'samples ('; }
i=0
while [ "$i" -lt 40 ] && ! fits; do sleep 0.1; i=$((i + 1)); done
if fits; then ok "live view redraws at the new size after a resize in the REPL"
else notok "live view redraws at the new size after a resize in the REPL" "not laid out for 70 columns"; show 4; fi
T resize-window -t live -x 100 -y 30 > /dev/null 2>&1 || T resize-pane -t live -x 100 -y 30 > /dev/null 2>&1
keys q
if prompt 50; then ok "q returns to the prompt"; else notok "q returns to the prompt" "no prompt"; show; fi
line 'print("R1", r.complete, r.n > 0 and r.n < r.total, #r.layers, r.interrupted, sane())'
check "q: the partial result (complete = false, 0 < n < total, 4 layers), terminal sane" \
  '^R1[[:space:]]+false[[:space:]]+true[[:space:]]+4[[:space:]]+nil[[:space:]]+true'

# 2. Ctrl-C in a live view: the partial result with interrupted = true
line 'r2 = metrics.llfc(a, b, ds, {alphas = {.1, .2, .3, .4, .5, .6, .7, .8, .9}, batch = 250, view = true})'
poll 'samples \([0-9]+%\)' 80
keys C-c
if prompt 50; then ok "Ctrl-C in a live view returns to the prompt"
else notok "Ctrl-C in a live view returns to the prompt" "no prompt"; show; fi
line 'print("R2", r2 and r2.complete, r2 and r2.interrupted, sane())'
check "Ctrl-C in a live view: partial result, interrupted = true, echo and icanon back" \
  '^R2[[:space:]]+false[[:space:]]+true[[:space:]]+true'

# 3. Ctrl-C in net:train (no view): a partial history, the net evaluates
line 'h = a:train(ds, {epochs = 50, batch = 64, lr = 0.01})'
if poll 'epoch 1/50' 80; then ok "net:train shows its progress bar"
else notok "net:train shows its progress bar" "no bar"; show; fi
keys C-c
if prompt 20; then ok "Ctrl-C in net:train returns to the prompt within 2 s"
else notok "Ctrl-C in net:train returns to the prompt within 2 s" "no prompt"; show; prompt 50; fi
line 'print("R3", h.interrupted, #h.loss > 0, #h.loss < 50 * 6250, a:eval(ds, {n = 2000}).n)'
check "net:train: partial history (interrupted), the net evaluates afterwards" \
  '^R3[[:space:]]+true[[:space:]]+true[[:space:]]+true[[:space:]]+2000'

# 4. Ctrl-C in a long metrics.report and in perm.weight_match (no view)
line 'rep = metrics.report(a, b, ds, {alphas = 41})'
sleep 0.5
keys C-c
if prompt 20; then ok "Ctrl-C in metrics.report returns to the prompt within 2 s"
else notok "Ctrl-C in metrics.report returns to the prompt within 2 s" "no prompt"; show; prompt 50; fi
check "metrics.report reports the interrupt" 'interrupted' 10
line 'wa = nn.mlp{784, 2048, 2048, 10, seed = 3}; wb = nn.mlp{784, 2048, 2048, 10, seed = 4}'
prompt 50
line 'p, pst = perm.weight_match(wa, wb, {max_iter = 1000})'
sleep 0.7
keys C-c
if prompt 20; then ok "Ctrl-C in perm.weight_match returns to the prompt within 2 s"
else notok "Ctrl-C in perm.weight_match returns to the prompt within 2 s" "no prompt"; show; prompt 50; fi
# metrics.report: "interrupted" during its first batch, else the partial
# result; weight matching: the permutation so far, stats.interrupted
line 'print("R4", rep == nil or rep.interrupted == true, p ~= nil and pst.interrupted, b:eval(ds, {n = 1000}).n, #wa:widths(), r.n > 0, sane())'
check "after the interrupts: partial results, every object intact and usable" \
  '^R4[[:space:]]+true[[:space:]]+true[[:space:]]+1000[[:space:]]+4[[:space:]]+true[[:space:]]+true'

# 5. a spawned pair plots live: the parent's run and both children overlaid
line 'sa, sb, info = nn.spawn(nn.mlp{8, 32, 4, seed = 5}, ds:subset(2000), {k = 1, epochs = 3, batch = 64, seeds = {2, 3}, view = true})'
if poll 'done in' 100 && screen | grep -q 'run spawn' && screen | grep -q 'run a' && screen | grep -q 'run b'; then
  ok "nn.spawn view: spawn, child a and child b overlaid"
else notok "nn.spawn view: spawn, child a and child b overlaid" "missing runs"; show 4; fi
keys q
prompt 50
line 'print("R5", #info.a.loss, #info.b.loss, sa:eval(ds, {n = 500}).n)'
check "nn.spawn view: both children trained, networks usable" '^R5[[:space:]]+64[[:space:]]+64[[:space:]]+500'

# the prompt still works: history and completion
keys Up
if poll '^llfc> print\("R5"' 20; then ok "history recalls the last line"
else notok "history recalls the last line" "no recall"; show 2; fi
keys C-u
T send-keys -t live -l 'metrics.interp'
keys Tab
if poll '^llfc> metrics\.interpolate\($' 20; then ok "Tab completion still works"
else notok "Tab completion still works" "no completion"; show 2; fi
keys C-u C-d
if poll '^EXIT=0' 50; then ok "Ctrl-D exits cleanly"; else notok "Ctrl-D exits cleanly" "no exit"; show; fi
[ "$fails" -eq 0 ]
