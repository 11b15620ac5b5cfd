-- GET a path with a different user's token on each request (round robin over a file
-- of tokens, one per line); stop after `limit` responses when limit > 0.
-- wrk ... -s tokens.lua URL -- TOKENS_FILE LIMIT [PATH]  (LIMIT: see bench/load.wrk_until;
-- wrk keeps running until its duration even after thread:stop(), so the bench
-- interrupts it; 0 here means no limit)
local tokens = {}
local counter = 0
local responses = 0
local limit = 0
local path = "/me"

function init(args)
  for line in io.lines(args[1]) do
    tokens[#tokens + 1] = line
  end
  limit = tonumber(args[2]) or 0
  path = args[3] or "/me"
end

function request()
  counter = counter + 1
  local token = tokens[(counter % #tokens) + 1]
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

function response(status, headers, body)
  responses = responses + 1
  if limit > 0 and responses >= limit then
    wrk.thread:stop()
  end
end
