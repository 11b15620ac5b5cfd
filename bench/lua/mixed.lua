-- The mixed load of target 7: each line of the data file is "TOKEN PROJECT_ID...";
-- requests go round robin over users, so a user's requests never overlap while there
-- are fewer connections than users. Per user and round: 60% GET /projects/{id},
-- 25% GET /projects (one page), 15% PATCH /projects/{id}.
-- wrk ... -s mixed.lua URL -- DATA_FILE
local users = {}
local counter = -1

function init(args)
  for line in io.lines(args[1]) do
    local fields = {}
    for field in line:gmatch("%S+") do
      fields[#fields + 1] = field
    end
    users[#users + 1] = fields
  end
end

function request()
  counter = counter + 1
  local index = counter % #users
  local user = users[index + 1]
  local round = math.floor(counter / #users)
  local project = user[(round % (#user - 1)) + 2]
  local slot = (round + index) % 20
  local headers = { ["Authorization"] = "Bearer " .. user[1] }
  if slot < 12 then
    return wrk.format("GET", "/projects/" .. project, headers)
  elseif slot < 17 then
    return wrk.format("GET", "/projects?limit=20", headers)
  end
  headers["Content-Type"] = "application/json"
  return wrk.format("PATCH", "/projects/" .. project, headers,
    '{"description":"edit ' .. counter .. '"}')
end
