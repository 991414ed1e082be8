-- check.lua - the Lua test harness.  Each check prints "ok - NAME" or
-- "not ok - NAME: details"; tests/run counts the lines.
--   local T = require "check"
--   T.ok(cond, name); T.eq(a, b, name); T.near(a, b, tol, name)
--   T.raises(fn, pattern, name); T.skip(name, why); T.done()
local T = {}
local failures = 0

local function report(pass, name, detail)
  if pass then print("ok - " .. name)
  else
    failures = failures + 1
    print("not ok - " .. name .. (detail and (": " .. detail) or ""))
  end
  return pass
end

function T.ok(cond, name, detail) return report(not not cond, name, detail) end

function T.eq(a, b, name)
  return report(a == b, name, string.format("got %s, expected %s", tostring(a), tostring(b)))
end

-- |a - b| <= tol * max(1, |b|)
function T.near(a, b, tol, name)
  local pass = type(a) == "number" and type(b) == "number" and math.abs(a - b) <= tol * math.max(1, math.abs(b))
  return report(pass, name, string.format("got %.9g, expected %.9g (tol %g)", tonumber(a) or 0/0, tonumber(b) or 0/0, tol))
end

-- fn must raise an error whose message matches pattern (plain find)
function T.raises(fn, pattern, name)
  local ok, err = pcall(fn)
  if ok then return report(false, name, "no error raised") end
  err = tostring(err)
  if pattern and not err:find(pattern, 1, true) then
    return report(false, name, "error '" .. err .. "' does not contain '" .. pattern .. "'")
  end
  return report(true, name)
end

function T.skip(name, why) print("skip - " .. name .. (why and (": " .. why) or "")) end

-- run fn; an error inside counts as a failure of `name` rather than aborting the file
function T.section(name, fn)
  local ok, err = xpcall(fn, debug.traceback)
  if not ok then report(false, name .. " (raised)", tostring(err)) end
end

function T.done() if failures > 0 then os.exit(1) end end

-- paths
T.srcdir = os.getenv("LLFC_SRCDIR") or "."
T.builddir = os.getenv("LLFC_BUILDDIR") or "."
function T.tmpname(suffix)
  local n = os.tmpname()
  os.remove(n)
  return n .. (suffix or "")
end

-- running scripts through the real binary, and reading what they wrote
function T.sh_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- run lua/experiments/<script> with args; returns ok, exit code, stdout
-- (stderr is dropped)
function T.run_experiment(script, args)
  local bin = os.getenv("LLFC") or (T.builddir .. "/llfc")
  local cmd = T.sh_quote(bin) .. " " .. T.sh_quote(T.srcdir .. "/lua/experiments/" .. script) .. " " .. args ..
              " < /dev/null 2>/dev/null"
  local p = io.popen(cmd)
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok, code, out
end

-- a file's whole content, or nil
function T.slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- a CSV file as a list of rows keyed by its header (numbers converted), or nil
function T.csv(path)
  local s = T.slurp(path)
  if not s then return nil end
  local rows, head = {}, nil
  for line in s:gmatch("[^\n]+") do
    local f = {}
    for v in (line .. ","):gmatch("([^,]*),") do f[#f + 1] = v end
    if not head then head = f
    else
      local r = {}
      for i, h in ipairs(head) do r[h] = tonumber(f[i]) or f[i] end
      rows[#rows + 1] = r
    end
  end
  return rows
end

return T
