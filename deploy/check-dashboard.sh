#!/usr/bin/env bash
# Checks that every PromQL expression of deploy/grafana/fxserve-dashboard.json
# is valid and finds data: starts fxserve (BUILD_DIR's, on its default model
# repository) and a real Prometheus scraping it with a copy of
# deploy/prometheus.yml (1 s interval), puts load on the server with
# `fxclient bench` (plus a few requests that fail, so the failure-by-reason
# series exist), then runs each panel's expression as an instant query with
# $model = tiny-gpt2 and $__rate_interval = 30s. Each must answer status
# "success" with a non-empty result; the model variable's label_values()
# must list tiny-gpt2. Prints every expression with its result count.
#
#   deploy/check-dashboard.sh BUILD_DIR
#
# BUILD_DIR has server/fxserve, clients/cpp/fxclient and models/repository.
# Needs prometheus (Debian package prometheus, which tools/install-deps.sh
# installs; $PROMETHEUS overrides) and python3. Listens on 127.0.0.1 only,
# on ports picked at run time. Every wait is for a state (a port, a scrape
# that shows the server's counts), bounded only by a 240 s hang guard, so
# the check holds on a slow machine; it takes 15-30 s on a quiet one.
set -euo pipefail

if [[ $# -ne 1 || ! -d "$1" ]]; then
  echo "usage: $0 BUILD_DIR" >&2
  exit 2
fi
deploy="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "$1" && pwd)"
fxserve="$build/server/fxserve"
fxclient="$build/clients/cpp/fxclient"
repository="$build/models/repository"
dashboard="$deploy/grafana/fxserve-dashboard.json"
prometheus="${PROMETHEUS:-$(command -v prometheus || echo /usr/bin/prometheus)}"
python="$(command -v /usr/bin/python3 || command -v python3 || true)"
model=tiny-gpt2
rate_interval=30s

fail() {
  echo "check-dashboard: $*" >&2
  exit 1
}
for f in "$fxserve" "$fxclient" "$prometheus"; do
  [[ -x "$f" ]] || fail "$f is missing (build fxserve and fxclient; apt-get install prometheus)"
done
[[ -n "$python" ]] || fail "python3 is missing"
[[ -d "$repository/$model" ]] || fail "$repository/$model is missing (build fxserve_default_repository)"

# Every wait below is bounded by this deadline, which only a hang reaches.
budget=240
deadline=$((SECONDS + budget))
left=$budget
check_time() {  # sets $left: seconds to the deadline
  left=$((deadline - SECONDS))
  ((left > 0)) || fail "out of time (${budget} s hang guard)"
}

tmp="$(mktemp -d /tmp/fxserve-check-dashboard.XXXXXX)"
server=""
prom=""
stop() {  # stop PID: SIGTERM, then SIGKILL after 10 s
  local pid="$1"
  [[ -n "$pid" ]] && kill -0 "$pid" 2> /dev/null || return 0
  kill -TERM "$pid" 2> /dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2> /dev/null || true
  wait "$pid" 2> /dev/null || true
}
cleanup() {
  local status=$?
  stop "$prom"
  stop "$server"
  if [[ $status -ne 0 ]]; then
    for log in "$tmp/fxserve.log" "$tmp/prometheus.log"; do
      [[ -s "$log" ]] || continue
      echo "--- last lines of $(basename "$log"):" >&2
      tail -n 20 "$log" >&2
    done
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# HTTP GET with python (the runtime has no guarantee of curl): prints the
# body, exits non-zero unless 200.
http_get() {
  "$python" - "$1" << 'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
        sys.stdout.write(r.read().decode())
except Exception:
    sys.exit(1)
EOF
}

# 1. fxserve on free ports.
"$fxserve" --bind 127.0.0.1 --grpc-port 0 --http-port 0 --metrics-port 0 \
  --ports-file "$tmp/ports.json" --model-repository "$repository" \
  > "$tmp/fxserve.log" 2>&1 &
server=$!
while [[ ! -s "$tmp/ports.json" ]]; do
  kill -0 "$server" 2> /dev/null || fail "fxserve exited at start"
  check_time
  sleep 0.1
done
read -r grpc metrics < <("$python" -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(p["grpc"], p["metrics"])' "$tmp/ports.json")
echo "check-dashboard: fxserve serving: gRPC 127.0.0.1:$grpc, metrics 127.0.0.1:$metrics"

# 2. Prometheus with a copy of deploy/prometheus.yml aimed at that port.
prom_port="$("$python" -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')"
sed -e "s/fxserve:8002/127.0.0.1:$metrics/" \
    -e 's/^\( *\)\(scrape_interval\|evaluation_interval\): 5s/\1\2: 1s/' \
    -e 's/^\( *\)scrape_timeout: 4s/\1scrape_timeout: 1s/' \
    "$deploy/prometheus.yml" > "$tmp/prometheus.yml"
grep -q "127.0.0.1:$metrics" "$tmp/prometheus.yml" ||
  fail "deploy/prometheus.yml has no fxserve:8002 target to point at the server"
"$prometheus" --config.file="$tmp/prometheus.yml" \
  --storage.tsdb.path="$tmp/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn \
  > "$tmp/prometheus.log" 2>&1 &
prom=$!
api="http://127.0.0.1:$prom_port"
until http_get "$api/-/ready" > /dev/null; do
  kill -0 "$prom" 2> /dev/null || fail "prometheus exited at start"
  check_time
  sleep 0.2
done
until http_get "$api/api/v1/query?query=up%7Bjob%3D%22fxserve%22%7D%3D%3D1" |
    grep -q '"value"'; do
  check_time
  sleep 0.2
done
echo "check-dashboard: prometheus on 127.0.0.1:$prom_port scraping fxserve every 1 s"

# 3. Load. A request that fails (max_tokens past the context:
# INVALID_ARGUMENT) before and after the bench, so
# fxserve_request_failure_total{reason} exists and increases, then the
# bench.
fail_once() {
  if "$fxclient" --url "127.0.0.1:$grpc" generate --max-tokens 1000000 \
      "x" > /dev/null 2>&1; then
    fail "a request with max_tokens 1000000 succeeded"
  fi
}
# The value of one series in fxserve's own /metrics (0 if absent).
server_value() {
  http_get "http://127.0.0.1:$metrics/metrics" |
    awk -v s="$1" '$1 == s { v = $2 } END { printf "%g\n", v + 0 }'
}
# Prometheus's latest sample of QUERY (one series): "VALUE TIMESTAMP", or
# "none".
scraped() {
  "$python" - "$api" "$1" << 'EOF'
import json, sys, urllib.parse, urllib.request
url = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode(
    {"query": sys.argv[2]})
stamp = sys.argv[1] + "/api/v1/query?" + urllib.parse.urlencode(
    {"query": "timestamp(%s)" % sys.argv[2]})
with urllib.request.urlopen(url, timeout=5) as r:
    value = json.load(r)["data"]["result"]
with urllib.request.urlopen(stamp, timeout=5) as r:
    when = json.load(r)["data"]["result"]
if value and when:
    print("%g %s" % (float(value[0]["value"][1]), when[0]["value"][1]))
else:
    print("none")
EOF
}
# Waits until Prometheus has scraped QUERY at value WANT in two scrapes
# (rates need two samples); a hang guard, not a time, ends the wait.
await_scraped() {
  local query="$1" want="$2" got first=""
  while :; do
    got="$(scraped "$query" || echo none)"
    if [[ "${got%% *}" == "$want" ]]; then
      [[ -z "$first" ]] && first="${got#* }"
      [[ "${got#* }" != "$first" ]] && return 0
    fi
    check_time
    sleep 0.2
  done
}
labels="model=\"$model\",backend=\"cpu\",model_instance=\"cpu_0\""
failed="fxserve_request_failure_total{$labels,reason=\"invalid_argument\"}"
succeeded="fxserve_request_success_total{$labels}"
fail_once
await_scraped "$failed" 1  # the failure series exists from now on
check_time
if ! timeout "$left" "$fxclient" --url "127.0.0.1:$grpc" \
    bench --concurrency 8 --requests 200 --max-tokens 32 \
    2> "$tmp/bench.err" | sed 's/^/  bench: /'; then
  tail -n 5 "$tmp/bench.err" >&2
  fail "fxclient bench failed"
fi
fail_once
fail_once
# Prometheus has the final counts.
await_scraped "$failed" "$(server_value "$failed")"
await_scraped "$succeeded" "$(server_value "$succeeded")"

# 4. Every expression of the dashboard.
check_time
timeout "$left" "$python" - "$dashboard" "$api" "$model" \
  "$rate_interval" << 'EOF'
import json, math, re, sys, urllib.parse, urllib.request

dashboard_file, api, model, rate_interval = sys.argv[1:5]
dashboard = json.load(open(dashboard_file))

def get(path, params):
    url = api + path + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:  # 400/422: the error is in the body
        return json.load(e)

def substitute(expr):
    for name, value in (("model", model), ("__rate_interval", rate_interval)):
        expr = re.sub(r"\$\{%s(:[a-z]+)?\}|\[\[%s\]\]|\$%s\b" % (
            re.escape(name), re.escape(name), re.escape(name)), value, expr)
    return expr

def panels(items):
    for p in items:
        yield p
        yield from panels(p.get("panels", []))

failures = 0
count = 0
for panel in panels(dashboard["panels"]):
    for target in panel.get("targets", []):
        expr = substitute(target["expr"])
        count += 1
        problem = None
        if "$" in expr:
            problem = "unknown dashboard variable"
            answer = {}
        else:
            answer = get("/api/v1/query", {"query": expr})
        result = answer.get("data", {}).get("result", [])
        if problem is None and answer.get("status") != "success":
            problem = "%s: %s" % (answer.get("errorType"), answer.get("error"))
        elif problem is None and not result:
            problem = "empty result"
        values = []
        for series in result[:4]:
            value = float(series["value"][1])
            labels = ",".join("%s=%s" % kv for kv in sorted(
                series["metric"].items()) if kv[0] != "model")
            values.append("%s%s" % (labels + " " if labels else "",
                                    "nan" if math.isnan(value)
                                    else "%.4g" % value))
        print("%-4s %2d  %s" % ("ok" if problem is None else "FAIL",
                                len(result), expr))
        print("         [%s] %s%s" % (panel["title"], ", ".join(values),
                                      "" if problem is None else
                                      "  <- " + problem))
        failures += problem is not None

# The template variables: label_values(metric, label) is what Grafana asks
# Prometheus's series API for.
for var in dashboard["templating"]["list"]:
    if var.get("type") != "query":
        continue
    query = var["query"]
    query = query["query"] if isinstance(query, dict) else query
    m = re.fullmatch(r"\s*label_values\((.+),\s*(\w+)\)\s*", query)
    count += 1
    if not m:
        print("FAIL     $%s: %s  <- not label_values(metric, label)" % (
            var["name"], query))
        failures += 1
        continue
    answer = get("/api/v1/label/%s/values" % m.group(2),
                 {"match[]": m.group(1)})
    values = answer.get("data") or []
    ok = answer.get("status") == "success" and model in values
    print("%-4s %2d  $%s = %s -> %s" % ("ok" if ok else "FAIL", len(values),
                                         var["name"], query, values))
    failures += not ok

print("check-dashboard: %d of %d queries %s" % (
    count - failures, count, "passed" if failures == 0 else "passed; FAILED"))
sys.exit(1 if failures else 0)
EOF
echo "check-dashboard: passed in ${SECONDS} s"
