-- llfc.util: small helpers shared by the Lua side of llfc.
local M = {}

-- Format a number compactly for tables: 4 significant digits.
function M.fmt(x)
  if x == nil then return "-" end
  if x ~= x then return "nan" end
  if x == math.huge then return "inf" elseif x == -math.huge then return "-inf" end
  if math.type(x) == "integer" then return tostring(x) end
  local a = math.abs(x)
  if a ~= 0 and (a < 1e-3 or a >= 1e5) then return string.format("%.3e", x) end
  return string.format("%.4f", x)
end

return M
