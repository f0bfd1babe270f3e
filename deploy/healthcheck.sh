#!/bin/bash
# The fxserve image's HEALTHCHECK: GET /v2/health/ready on the HTTP port and
# succeed only on 200 (503 while loading or draining after SIGTERM). The
# slim image has neither curl nor wget, so this speaks HTTP/1.0 through
# bash's /dev/tcp. The HTTP health routes need no bearer token and never
# use TLS, so this works with --auth-token-file and --tls-cert too (unlike
# `fxclient health`, which calls the authenticated gRPC ServerLive).
#
# Environment: FXSERVE_HEALTH_HOST (default 127.0.0.1; set it if --bind is a
# specific address) and FXSERVE_HEALTH_PORT (default 8000, = --http-port).
# The Docker HEALTHCHECK's --timeout bounds a hung connection.
host="${FXSERVE_HEALTH_HOST:-127.0.0.1}"
port="${FXSERVE_HEALTH_PORT:-8000}"

exec 3<> "/dev/tcp/$host/$port" || exit 1
printf 'GET /v2/health/ready HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' \
  "$host" >&3 || exit 1
IFS= read -r -t 5 status <&3 || exit 1
exec 3<&-
status="${status%$'\r'}"
echo "$status"
[[ "$status" =~ ^HTTP/1\.[01]\ 200 ]]
