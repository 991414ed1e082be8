-- test_basics.lua - the binary runs scripts with llfc's modules loaded.
local T = require "check"
T.ok(type(tensor) == "table" and type(nn) == "table" and type(data) == "table", "modules are globals")
T.ok(type(llfc.version) == "string" and llfc.version:match("^%d+%.%d+"), "llfc.version")
T.eq(require("llfc.util").fmt(0.5), "0.5000", "embedded Lua modules load")
T.eq(arg[0]:match("test_basics.lua$") ~= nil, true, "arg[0] is the script")
T.done()
