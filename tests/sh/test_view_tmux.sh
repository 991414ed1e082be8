#!/bin/sh
# test_view_tmux.sh - drive the real binary in a terminal (tmux): a plot
# appears, redraws on resize, q returns to the script; a live view fills in
# as a Lua loop calls view.begin/update/finish; q and Ctrl-C stop a live
# loop and leave the terminal sane.  Private tmux socket, fixed sizes, polls
# with timeouts, always kills its server.
LLFC=${LLFC:-./llfc}
SRC=${LLFC_SRCDIR:-.}
case $LLFC in /*) ;; *) LLFC=$(pwd)/$LLFC ;; esac
if ! command -v tmux >/dev/null 2>&1; then echo "skip - tmux not installed"; exit 0; fi
# one private server per case: llfc-view-PID-N (a fresh socket avoids racing
# with a server that is still shutting down)
S=llfc-view-$$-0
n=0
dir=$(mktemp -d)
# sockets in a directory of our own (a shared /tmp/tmux-UID whose permissions
# another program changed makes tmux refuse to start)
TMUX_TMPDIR=$dir; export TMUX_TMPDIR
unset TMUX
cleanup() {
  k=0
  while [ "$k" -le "$n" ]; do tmux -L "llfc-view-$$-$k" kill-server >/dev/null 2>&1; k=$((k + 1)); done
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
failed=0
ok() { echo "ok - $1"; }
bad() { echo "not ok - $1"; failed=1; tmux -L "$S" capture-pane -p -t v 2>/dev/null | sed 's/^/#   /'; }
screen() { tmux -L "$S" capture-pane -p -t v 2>/dev/null; }
# wait_for PATTERN [tenths of a second]
wait_for() {
  i=0
  while [ "$i" -lt "${2:-60}" ]; do
    screen | grep -q -- "$1" && return 0
    sleep 0.1; i=$((i + 1))
  done
  return 1
}
next_server() {
  tmux -L "$S" kill-server >/dev/null 2>&1
  n=$((n + 1)); S=llfc-view-$$-$n
}
start() { # script, width, height
  next_server
  tmux -L "$S" -f /dev/null new-session -d -s v -x "$2" -y "$3" \
    "cd '$dir' && env -u CI -u LLFC_VIEW LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color '$LLFC' '$1'; echo \"exit=\$?\"; \
     stty -a | tr ' ;' '\n\n' | grep -qx echo && stty -a | tr ' ;' '\n\n' | grep -qx icanon && echo TTY-SANE; sleep 30"
}

cat > "$dir/res.lua" <<'LUA'
local alphas, err, loss = {}, {}, {}
for i = 0, 20 do
  local a = i / 20
  alphas[#alphas + 1] = a
  err[#err + 1] = 0.1 + 0.3 * math.sin(math.pi * a)
  loss[#loss + 1] = 0.3 + 0.9 * math.sin(math.pi * a)
end
R = { kind = "interpolate", n = 100, alphas = alphas, err = err, loss = loss,
      err_a = .1, err_b = .1, loss_a = .3, loss_b = .3,
      barrier = { err = .3, err_alpha = .5, loss = .9, loss_alpha = .5 } }
function pause(s) local t = os.clock() + s; while os.clock() < t do end end
LUA

# 1. view.plot: appears, redraws on resize, q returns to the script
cat > "$dir/plot.lua" <<'LUA'
dofile("res.lua")
view.plot(R)
print("after plot: back in the script")
LUA
start plot.lua 90 30
if wait_for "interpolation: err vs alpha" && wait_for "barrier 0.3" && screen | grep -q "llfc view: interpolate"; then
  ok "view.plot draws the interpolation curve with its barrier"
else bad "view.plot draws the interpolation curve with its barrier"; fi
if screen | grep -q "⣀\|⠤\|⠒\|⠉"; then ok "braille in a UTF-8 locale"; else bad "braille in a UTF-8 locale"; fi
tmux -L "$S" resize-window -t v -x 60 -y 20 2>/dev/null || tmux -L "$S" resize-pane -t v -x 60 -y 20
sleep 0.3
# the alpha tick labels (an ASCII line) end near the new right edge
if wait_for "interpolation: err" && n=$(screen | grep -m1 '0\.2.*1\.0$' | awk '{ print length($0) }') \
   && [ "$n" -le 60 ] && [ "$n" -ge 45 ] && screen | grep -q "barrier"; then
  ok "resize: the plot is redrawn at 60x20"
else bad "resize: the plot is redrawn at 60x20"; fi
tmux -L "$S" send-keys -t v Tab
tmux -L "$S" send-keys -t v '?'
if wait_for "log scale on / off"; then ok "? shows the keys"; else bad "? shows the keys"; fi
tmux -L "$S" send-keys -t v x
tmux -L "$S" send-keys -t v s
if wait_for "saved llfc-interpolate-interpolation.svg" && [ -s "$dir/llfc-interpolate-interpolation.svg" ]; then
  ok "s saves the panel as SVG and shows the file name"
else bad "s saves the panel as SVG and shows the file name"; fi
tmux -L "$S" send-keys -t v q
if wait_for "after plot: back in the script" && wait_for "exit=0" && wait_for "TTY-SANE"; then
  ok "q quits the view, the script goes on, the terminal is restored"
else bad "q quits the view, the script goes on, the terminal is restored"; fi

# 2. live: a Lua loop feeding view.update, then view.finish waits for q
cat > "$dir/live.lua" <<'LUA'
dofile("res.lua")
view.begin("interpolate", "live test")
local r = { kind = "interpolate", alphas = {}, err = {}, loss = {} }
for i = 1, 21 do
  r.alphas[i], r.err[i], r.loss[i] = R.alphas[i], R.err[i], R.loss[i]
  if not view.update(r) then break end
  pause(i == 11 and 1.5 or 0.02)
end
view.finish(r)
print("live done: " .. #r.alphas .. " points")
LUA
start live.lua 90 30
if wait_for "live test: 11 alphas" 80; then ok "live: the status line follows the updates (11 alphas)"; else bad "live: the status line follows the updates (11 alphas)"; fi
if wait_for "done in" 80 && screen | grep -q "B"; then ok "live: finish shows the final plot and waits"; else bad "live: finish shows the final plot and waits"; fi
sleep 0.3
if ! screen | grep -q "live done"; then ok "live: finish blocks until q"; else bad "live: finish blocks until q"; fi
tmux -L "$S" send-keys -t v q
if wait_for "live done: 21 points" && wait_for "TTY-SANE"; then ok "live: q returns, terminal restored"; else bad "live: q returns, terminal restored"; fi

# 3. q during the computation stops it (update returns false)
cat > "$dir/stop.lua" <<'LUA'
dofile("res.lua")
view.begin("interpolate", "long run")
local r = { kind = "interpolate", alphas = {}, err = {}, loss = {} }
local n = 0
for i = 1, 400 do
  local a = (i - 1) / 399
  r.alphas[i], r.err[i], r.loss[i] = a, math.sin(a), math.cos(a)
  n = i
  if not view.update(r) then break end
  pause(0.02)
end
view.finish(r)
print("stopped at " .. n)
LUA
start stop.lua 80 24
wait_for "long run:" 60
sleep 0.3
tmux -L "$S" send-keys -t v q
if wait_for "stopped at" 60 && ! screen | grep -q "stopped at 400" && wait_for "TTY-SANE"; then
  ok "live: q stops the loop early"
else bad "live: q stops the loop early"; fi

# 4. Ctrl-C inside a live view: the loop stops, the terminal is restored
start stop.lua 80 24
wait_for "long run:" 60
sleep 0.3
tmux -L "$S" send-keys -t v C-c
if wait_for "stopped at" 60 && ! screen | grep -q "stopped at 400" && wait_for "exit=0" && wait_for "TTY-SANE"; then
  ok "Ctrl-C stops a live view and restores the terminal"
else bad "Ctrl-C stops a live view and restores the terminal"; fi

# 5. an error inside view.live closes the view before the message is shown
cat > "$dir/err.lua" <<'LUA'
dofile("res.lua")
local ok, e = pcall(view.live, function(update)
  update(R)
  pause(0.5)
  error("boom in the loop")
end)
print("caught: " .. tostring(e))
LUA
start err.lua 80 24
if wait_for "caught: .*boom in the loop" 60 && wait_for "TTY-SANE"; then
  ok "an error inside view.live restores the terminal and propagates"
else bad "an error inside view.live restores the terminal and propagates"; fi

# 6. ASCII when the locale is not UTF-8
cat > "$dir/ascii.lua" <<'LUA'
dofile("res.lua")
view.plot(R)
LUA
next_server
tmux -L "$S" -f /dev/null new-session -d -s v -x 80 -y 24 \
  "cd '$dir' && env -u CI -u LLFC_VIEW LANG=C LC_ALL=C TERM=xterm '$LLFC' ascii.lua; echo exit=\$?; sleep 30"
if wait_for "interpolation: err" && screen | grep -q '\*\*' && ! screen | grep -q "⠉"; then
  ok "ASCII plot in the C locale"
else bad "ASCII plot in the C locale"; fi
tmux -L "$S" send-keys -t v q
wait_for "exit=0" 30 || bad "ASCII view quits"
exit $failed
