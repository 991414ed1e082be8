-- test_demo.lua - demo() / llfc.demo(): the guided tour as an embedded module
-- (lua/llfc/demo.lua), run here without waiting and with print captured.
local T = require "check"

T.ok(type(demo) == "function" and demo == llfc.demo, "demo is a global and is llfc.demo")
local M = require("llfc.demo")
T.ok(type(M) == "table" and type(M.run) == "function", "require('llfc.demo') has run(opts)")

local lines = {}
local saved = print
print = function(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  for l in (table.concat(t, "\t") .. "\n"):gmatch("([^\n]*)\n") do lines[#lines + 1] = l end
end
local ok, err = pcall(llfc.demo, {wait = false, ascii = true})
print = saved
T.ok(ok, "llfc.demo{wait = false} runs to the end", tostring(err))
local steps, before, after, nonint = 0, nil, nil, false
for _, l in ipairs(lines) do
  if l:match("^== %d+%. ") then steps = steps + 1 end
  if l:find("non-interactive", 1, true) then nonint = true end
  local b, a = l:match("barrier %(test error%): ([%d.]+) before matching, ([%d.]+) after")
  if b then before, after = tonumber(b), tonumber(a) end
end
T.ok(steps >= 7, "the tour shows its steps", steps .. " steps")
T.ok(nonint, "without waiting the tour says it is non-interactive")
T.ok(before and after and after < before, "the tour's barrier falls after weight matching",
  tostring(before) .. " -> " .. tostring(after))
T.raises(function() llfc.demo{wiat = false} end, "unknown option 'wiat'", "demo rejects an unknown option")
T.raises(function() llfc.demo{wait = "no"} end, "must be a boolean", "demo checks option types")
T.raises(function() llfc.demo(5) end, "options table expected", "demo checks its argument")
T.ok(llfc.doc("demo") ~= nil and llfc.doc("llfc.demo") == llfc.doc("demo"), "help finds demo as 'demo' and 'llfc.demo'")
T.done()
