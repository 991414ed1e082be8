-- test_help.lua - help() / llfc.doc(): every llfc function and method has a
-- man page entry, every entry names something that exists, and the text is
-- plain (no roff) and wrapped.
local T = require "check"

-- the man page, parsed here independently of the C parser in l_help.c:
-- an entry is ".TP" followed by a font macro line whose text starts "name("
local function strip(s)
  s = s:gsub('\\f[BIRP]', ''):gsub('\\f%(..', ''):gsub('\\%-', '-'):gsub('\\%(dq', '"')
  s = s:gsub('\\%(aq', "'"):gsub('\\[&|^]', ''):gsub('"', '')
  return s
end
local entries, order = {}, {}
do
  local f = assert(io.open(T.srcdir .. "/man/llfc.1"))
  local prev
  for line in f:lines() do
    if prev and prev:match("^%.TP") then
      local macro, rest = line:match("^%.([BI][RI]?) (.*)$")
      if macro then
        local name = strip(rest):match("^%s*([%a_][%w_.:]*)[%({]")
        if name then
          T.ok(not entries[name], "man entry " .. name .. " appears once")
          entries[name] = true
          order[#order + 1] = name
        end
      end
    end
    prev = line
  end
  f:close()
end
T.ok(entries["help"] and entries["llfc.doc"], "man page has entries for help and llfc.doc")

-- everything llfc exports: functions of each module, of the llfc table, and
-- the methods in the __index tables of the registered llfc.* metatables
local exported = {}       -- name -> function
local function add(name, fn) exported[name] = fn end
for mname, mod in pairs(llfc) do
  if type(mod) == "table" then
    for k, v in pairs(mod) do
      if type(k) == "string" and type(v) == "function" then add(mname .. "." .. k, v) end
    end
  elseif type(mod) == "function" then
    add("llfc." .. mname, mod)
  end
end
-- a type's methods: __index if it is a table, else mt.methods, else the
-- first upvalue of a function __index (a type whose __index also serves fields)
local function methods_of(mt)
  if type(mt.__index) == "table" then return mt.__index end
  if type(mt.methods) == "table" then return mt.methods end
  if type(mt.__index) == "function" then
    local _, up = debug.getupvalue(mt.__index, 1)
    if type(up) == "table" then return up end
  end
end
local types = {}
for key, mt in pairs(debug.getregistry()) do
  local tname = type(key) == "string" and key:match("^llfc%.(%u[%w_]*)$")
  if tname and type(mt) == "table" and mt.__name == key then
    types[tname] = mt
    for k, v in pairs(methods_of(mt) or {}) do
      if type(k) == "string" and type(v) == "function" then add(tname .. ":" .. k, v) end
    end
  end
end

-- 1. every exported function has an entry (llfc.help and llfc.demo are
-- documented as help and demo, the REPL's globals)
local names = {}
for name in pairs(exported) do names[#names + 1] = name end
table.sort(names)
local missing = {}
for _, name in ipairs(names) do
  local doc_name = (name == "llfc.help" or name == "llfc.demo") and name:sub(6) or name
  if not entries[doc_name] then missing[#missing + 1] = doc_name end
end
T.ok(#missing == 0, string.format("every exported function has a man entry (%d checked)", #names),
  #missing .. " missing: " .. table.concat(missing, ", "))

-- 2. help resolves every function value to its entry
local unresolved = {}
for _, name in ipairs(names) do
  local text = llfc.doc(exported[name], 200)
  if not text then unresolved[#unresolved + 1] = name end
end
T.ok(#unresolved == 0, "llfc.doc(f) finds the entry of every exported function",
  "not found: " .. table.concat(unresolved, ", "))

-- 3. every entry names something that exists
local function exists(name)
  local mod, fn = name:match("^([%w_]+)%.([%w_]+)$")
  if mod then
    if mod == "llfc" then return type(llfc[fn]) == "function" end
    return type(llfc[mod]) == "table" and type(llfc[mod][fn]) == "function"
  end
  local tname, meth = name:match("^(%u[%w_]*):([%w_]+)$")
  if tname then
    local mt = types[tname]
    if mt and meth:match("^__") then return mt[meth] ~= nil end -- a metamethod (Tensor:__add)
    local m = mt and methods_of(mt)
    return m ~= nil and type(m[meth]) == "function"
  end
  return type(_G[name]) == "function" and _G[name] == llfc[name]
end
local dangling = {}
for _, name in ipairs(order) do
  if not exists(name) then dangling[#dangling + 1] = name end
end
T.ok(#dangling == 0, string.format("every man entry names an existing function (%d entries)", #order),
  #dangling .. " dangling: " .. table.concat(dangling, ", "))

-- 4. each entry renders: starts with its name, no roff left, wrapped
local bad = {}
for _, name in ipairs(order) do
  local text = llfc.doc(name, 72)
  local why
  if not text then why = "no text"
  elseif text:sub(1, #name) ~= name then why = "does not start with its name"
  elseif text:find("\\f", 1, true) or text:find("\\-", 1, true) or text:find("\\(", 1, true) then why = "roff escape left"
  elseif text:find("\n%.%u") or text:find("^%.%u") then why = "roff request left"
  else
    for line in text:gmatch("[^\n]+") do
      if #line > 72 and line:find(" ", 5, true) and line:match("^%s*(.-)$"):find(" ") then why = "line longer than 72: " .. line end
    end
  end
  if why then bad[#bad + 1] = name .. " (" .. why .. ")" end
end
T.ok(#bad == 0, "every entry renders as plain wrapped text", table.concat(bad, "; "))

-- 5. names, aliases and lookups
T.eq(llfc.doc(help), llfc.doc("help"), "help(help) == help(\"help\")")
T.eq(llfc.doc("llfc.help"), llfc.doc("help"), "\"llfc.help\" finds the help entry")
T.eq(llfc.doc("doc"), llfc.doc("llfc.doc"), "a unique short name finds its entry")
T.ok(help == llfc.help, "help is llfc.help")
local text = llfc.doc("llfc.doc", 60)
T.ok(text and text:find('print(llfc.doc("help", 60))', 1, true), "roff quotes (\\(dq) render as \"", text)
local maxlen = 0
for line in text:gmatch("[^\n]+") do maxlen = math.max(maxlen, #line) end
T.ok(maxlen <= 60 and maxlen > 40, "text wraps to the requested width", "longest line " .. maxlen)
local none, msg = llfc.doc("no_such_function_xyz")
T.ok(none == nil and msg:find("no documentation for 'no_such_function_xyz'", 1, true), "unknown name: nil, message", msg)
none, msg = llfc.doc(print)
T.ok(none == nil and msg:find("print is a standard Lua function", 1, true), "a standard function is named as such", msg)
none, msg = llfc.doc(function() end)
T.ok(none == nil and msg:find("no documentation for this function", 1, true), "an anonymous function: nil, message", msg)

-- 6. overview and module pages
local ov = llfc.doc()
T.ok(ov:find("alpha = 1 is network A", 1, true) and ov:find("help(tensor.new)", 1, true)
  and ov:find("tensor", 1, true) and ov:find("metrics", 1, true), "help() overview: convention, modules, usage")
local mp = llfc.doc(tensor)
T.ok(mp and mp:find("^Module tensor"), "help(tensor) describes the module", mp)
T.eq(llfc.doc("nn"), llfc.doc(nn), "a module by name or by value")

-- 7. types: a registered metatable is found by name, by object and by method
do
  local reg = debug.getregistry()
  local method = function() end
  reg["llfc.Zzfake"] = { __name = "llfc.Zzfake", __index = { poke = method } }
  local tp = llfc.doc("Zzfake")
  T.ok(tp and tp:find("llfc.Zzfake is internal to llfc", 1, true),
    "help(\"Type\") of a type the man page does not document says it is internal", tp)
  T.ok(not llfc.doc():find("Zzfake", 1, true), "help() does not list an undocumented type")
  local none2, m2 = llfc.doc(method)
  T.ok(none2 == nil and m2:find("Zzfake:poke has no documentation yet", 1, true), "a method value resolves to Type:name", m2)
  reg["llfc.Zzfake"] = nil
  local tm = getmetatable(tensor.zeros(1)).methods
  tm.zzpoke = method
  tp = llfc.doc("Tensor")
  T.ok(tp and tp:find("^Type Tensor") and tp:find("Tensor:zzpoke  (no documentation)", 1, true),
    "help(\"Type\") lists the methods, marking undocumented ones", tp)
  tm.zzpoke = nil
end

-- 7b. the overview lists the types users meet, not the view's internal ones
do
  view.text({kind = "interpolate", alphas = {0, 1}, err = {0, 0}, loss = {0, 0}})
  local ov = llfc.doc()
  local types = ov:match("Object types[^\n]*\n([^\n]*)")
  T.ok(types and types:find("Tensor", 1, true) and types:find("Net", 1, true) and types:find("Dataset", 1, true)
       and not types:find("ChartBox", 1, true) and not types:find("Screen", 1, true),
       "help() lists Tensor, Net, Dataset and not ChartBox or Screen", types)
  local all = true
  for ty in (types or ""):gmatch("%S+") do all = all and llfc.doc(ty):find("^Type " .. ty) ~= nil end
  T.ok(all, "every type help() lists has its methods documented")
end

-- 7c. help(nn) opens with what a network is, for every kind of network
do
  local d = llfc.doc(nn)
  local first = d:match("^Module nn\n\n([^\n]*)")
  T.ok(first and not first:find("Networks are multilayer perceptrons", 1, true) and d:find("nn.vgg", 1, true),
       "help(nn) does not open with 'Networks are multilayer perceptrons'", first)
end

-- 7d. apropos: a word that names no entry lists the entries that mention it
do
  local b = llfc.doc("barrier")
  T.ok(b and b:find("^No entry is named 'barrier'") and b:find("metrics.interpolate(", 1, true),
       "help(\"barrier\") lists the entries that mention it (metrics.interpolate)", b)
  local ip = llfc.doc("interp")
  T.ok(ip and ip:match("^[^\n]*\n  ([%w_.:]+)") == "metrics.interpolate",
       "help(\"interp\"): entries whose name holds the word come first", ip)
  local two = llfc.doc("weight matching")
  T.ok(two and two:find("perm.weight_match(", 1, true), "several words: entries holding all of them", two)
  local none3, m3 = llfc.doc("zzqqxx")
  T.ok(none3 == nil and m3:find("no entry is named so or mentions it", 1, true), "a word nowhere in the page: nil and a message", m3)
  T.ok(llfc.doc("BARRIER") == llfc.doc("barrier"):gsub("'barrier'", "'BARRIER'"), "the search ignores case")
end

-- 8. help() prints to stdout, wrapped to COLUMNS when not on a terminal
do
  local cmd = string.format("COLUMNS=50 %q -e 'help(help)' 2>&1", os.getenv("LLFC") or (T.builddir .. "/llfc"))
  local p = io.popen(cmd)
  local out = p:read("a")
  p:close()
  local longest = 0
  for line in out:gmatch("[^\n]+") do longest = math.max(longest, #line) end
  T.ok(out:find("^help%(%[x%]%)\n") and longest <= 49, "help(x) prints the entry wrapped to $COLUMNS", out)
end

T.done()
