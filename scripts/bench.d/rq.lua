-- wrk script for scripts/bench. Arguments after "--": MODE then key=value pairs.
--   write   POST path (default /db/execute) with stmts=N parameterized INSERTs into foo
--   read    GET /db/query?level=L point read by rowid, id uniform in 1..maxid
--   mixed   readpct=90: weak point reads, else one INSERT (like write stmts=1)
--   etcd    POST /v3/kv/put with a fresh base64 key per request (etcd v3 JSON gateway)
--   dqlite  PUT /<fresh key> to dqlite-demo (one INSERT OR REPLACE per request)
--   status  GET /readyz?noleader (the HTTP floor: the gateway answers it alone;
--           /status?key=node would ask consensus and storage first)
-- Acknowledged rows: a 200 response whose body has no "error" acknowledges every
-- "rows_affected" it reports (queued writes: every statement sent, since the queue
-- acknowledges before commit). done() prints one line "BENCH {json}" for the script.

local threads = {}
local counter = 0

function setup(thread)
	counter = counter + 1
	thread:set("tid", counter)
	table.insert(threads, thread)
end

local opts = { mode = "write", stmts = 1, path = "", level = "weak", maxid = 1, readpct = 90, txn = 0, queue = 0, run = 0 }
-- globals, not locals: done() reads them from each thread with thread:get()
write_req, acked, apperr, writes_sent, rows_sent = nil, 0, 0, 0, 0
s503, rows_refused, errsample = 0, 0, ""
local seq = 0

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function b64(s)
	return ((s:gsub(".", function(x)
		local r, b = "", x:byte()
		for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
		return r
	end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
		if #x < 6 then return "" end
		local c = 0
		for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
		return b64chars:sub(c + 1, c + 1)
	end) .. ({ "", "==", "=" })[#s % 3 + 1])
end

local function write_body(n)
	local parts = {}
	for i = 1, n do
		parts[i] = string.format('["INSERT INTO foo(name, value) VALUES(?, ?)", "bench-%d", %d]', tid or 0, i)
	end
	return "[" .. table.concat(parts, ",") .. "]"
end

function init(args)
	opts.mode = args[1] or "write"
	for i = 2, #args do
		local k, v = args[i]:match("^([%w_]+)=(.*)$")
		if k then opts[k] = tonumber(v) or v end
	end
	math.randomseed((tid or 1) * 7919 + os.time())
	status_req = wrk.format("GET", "/readyz?noleader")
	if opts.mode == "write" or opts.mode == "mixed" then
		local n = opts.mode == "mixed" and 1 or opts.stmts
		local path = opts.path ~= "" and opts.path or "/db/execute"
		write_req = wrk.format("POST", path, { ["Content-Type"] = "application/json" }, write_body(n))
	end
end

local function read_req()
	local id = math.random(1, math.max(1, opts.maxid))
	return wrk.format("GET", "/db/query?level=" .. opts.level ..
		"&q=SELECT%20id%2C%20name%2C%20value%20FROM%20foo%20WHERE%20id%3D" .. id)
end

function request()
	local m = opts.mode
	if m == "write" then
		writes_sent = writes_sent + 1
		rows_sent = rows_sent + opts.stmts
		return write_req
	elseif m == "read" then
		return read_req()
	elseif m == "status" then
		return status_req
	elseif m == "mixed" then
		if math.random(1, 100) <= opts.readpct then return read_req() end
		writes_sent = writes_sent + 1
		rows_sent = rows_sent + 1
		return write_req
	elseif m == "etcd" then
		seq = seq + 1
		local key = b64(string.format("bench/%s/%d/%d", opts.run, tid or 0, seq))
		writes_sent = writes_sent + 1
		rows_sent = rows_sent + 1
		return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" },
			'{"key":"' .. key .. '","value":"dmFsdWU="}')
	elseif m == "dqlite" then
		seq = seq + 1
		writes_sent = writes_sent + 1
		rows_sent = rows_sent + 1
		return wrk.format("PUT", string.format("/bench-%s-%d-%d", opts.run, tid or 0, seq), nil, "value")
	end
end

function response(status, headers, body)
	local haserr = body and body:find('"error"', 1, true) ~= nil
	if opts.mode == "dqlite" then
		-- dqlite-demo answers 200 "done", or 200 "Error: …" when the INSERT failed
		haserr = body == nil or body:sub(1, 4) ~= "done"
	end
	if status ~= 200 or haserr then
		apperr = apperr + 1
		if errsample == "" then errsample = status .. " " .. (body or ""):sub(1, 120) end
	end
	if status == 503 then
		-- "queue full, retry later" (or shutting down): nothing was taken
		s503 = s503 + 1
		if opts.mode == "write" then rows_refused = rows_refused + opts.stmts end
	end
	if status ~= 200 then return end
	local m = opts.mode
	if m == "etcd" or m == "dqlite" then
		if not haserr then acked = acked + 1 end
		return
	end
	if opts.queue == 1 then
		if not haserr and body:find('"sequence_number"', 1, true) then acked = acked + opts.stmts end
		return
	end
	-- A transaction with an error is rolled back as a whole; otherwise each
	-- statement that reports rows_affected is in.
	if haserr and opts.txn == 1 then return end
	local n = 0
	for _ in body:gmatch('"rows_affected":1') do n = n + 1 end
	acked = acked + n
end

function done(summary, latency, requests)
	local a, e, w, r, u, x, es = 0, 0, 0, 0, 0, 0, ""
	for _, t in ipairs(threads) do
		a = a + (t:get("acked") or 0)
		e = e + (t:get("apperr") or 0)
		w = w + (t:get("writes_sent") or 0)
		r = r + (t:get("rows_sent") or 0)
		u = u + (t:get("s503") or 0)
		x = x + (t:get("rows_refused") or 0)
		if es == "" then es = t:get("errsample") or "" end
	end
	local er = summary.errors
	io.write(string.format('BENCH {"requests":%d,"duration_us":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,' ..
		'"mean":%.1f,"connect_err":%d,"read_err":%d,"write_err":%d,"status_err":%d,"timeouts":%d,' ..
		'"acked":%d,"app_errors":%d,"writes_sent":%d,"rows_sent":%d,"s503":%d,"rows_refused":%d,"errsample":"%s"}\n',
		summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
		latency:percentile(99), latency.max, latency.mean, er.connect, er.read, er.write, er.status,
		er.timeout, a, e, w, r, u, x, es:gsub("[%c\\\"]", " ")))
end
