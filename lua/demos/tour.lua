-- tour.lua - the guided tour: two small networks on a built-in synthetic
-- dataset (no files needed), the barrier between them, weight matching, the
-- barrier falling, and LLFC per layer before and after.  The tour itself is
-- the embedded module llfc.demo (demo() in the REPL); this script parses its
-- command line and runs it.
--   llfc lua/demos/tour.lua [--no-wait] [--ascii]
-- In a terminal each step waits for Enter and the plots open in the view
-- (q goes back); with --no-wait, or when stdin or stdout is not a terminal
-- (pipes, CI), it prints text and never waits.
local argv = arg or {}
local nowait, ascii = false, false
for _, a in ipairs(argv) do
  if a == "--no-wait" then nowait = true
  elseif a == "--ascii" then ascii = true
  elseif a == "--help" or a == "-h" then
    print("usage: llfc lua/demos/tour.lua [--no-wait] [--ascii]")
    return
  else
    io.stderr:write("tour.lua: unknown option '" .. a .. "' (try --help)\n")
    os.exit(2)
  end
end

require("llfc.demo").run { wait = not nowait, ascii = ascii }
