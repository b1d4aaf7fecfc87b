#!/usr/bin/env bash
# The API against its contract (docs/openapi.json):
#   1. openapi-spec-validator checks that the committed document is valid OpenAPI 3.1;
#   2. two live stations (the release binary, fresh data in a temporary
#      directory, loopback ports) are pinned and verified both ways with an
#      active channel, a message and a request from the counterpart, so that
#      requests can reach more than "no such channel";
#   3. the served GET /v1/openapi.json must equal the committed document;
#   4. schemathesis generates requests from the served document, valid and
#      invalid, and checks every answer: no 5xx, a status the document lists,
#      its content type, a body that matches its schema, refusals of invalid
#      input, 401 without the token, 405 for methods a route does not take.
#
# Usage: tests/api/schemathesis.sh [extra schemathesis arguments; paths in them absolute]
#   HOTLINE_BIN  the binary (default target/release/hotline)
#   VENV         where the Python tools are installed (default target/venv)
#   EXAMPLES     examples per operation (default 100)
#   SEED         the generator's seed (default 7811): the same seed, the same requests
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
# Paths given in the environment are the caller's; the defaults are the repository's.
bin=$(realpath -m "${HOTLINE_BIN:-$root/target/release/hotline}")
venv=$(realpath -m "${VENV:-$root/target/venv}")
cd "$root"
[ -x "$bin" ] || { echo "no $bin: cargo build --release --bin hotline" >&2; exit 2; }

# The tools, pinned, in a virtual environment of their own; installed again
# only when tests/api/requirements.txt changes.
if ! cmp -s tests/api/requirements.txt "$venv/requirements.txt" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/api/requirements.txt
  cp tests/api/requirements.txt "$venv/requirements.txt"
fi

echo "== openapi-spec-validator docs/openapi.json"
"$venv/bin/openapi-spec-validator" docs/openapi.json

dir=$(mktemp -d)
pids=()
stop() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap stop EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hl() { local s=$1; shift; "$bin" --data "$dir/$s" "$@"; }

# station NAME: init and serve it; sets ${NAME}_link and ${NAME}_api.
station() {
  local name=$1 link api
  link="127.0.0.1:$(free_port)"
  api="127.0.0.1:$(free_port)"
  hl "$name" init --name "$name" --listen "$link" --api "$api" >/dev/null 2>&1
  # The binary itself in the background (not through `hl`, whose subshell
  # would be what `$!` names), so that stop() signals the station.
  "$bin" --data "$dir/$name" serve >"$dir/$name.log" 2>&1 &
  pids+=($!)
  local up=
  for _ in $(seq 200); do
    curl -fsS "http://$api/v1/health" >/dev/null 2>&1 && { up=1; break; }
    kill -0 "$!" 2>/dev/null || break
    sleep 0.05
  done
  [ -n "$up" ] || { echo "station $name did not come up on $api:" >&2; cat "$dir/$name.log" >&2; exit 1; }
  printf -v "${name}_link" %s "$link"
  printf -v "${name}_api" %s "$api"
}

echo "== two stations, pinned and verified, with an active channel"
station alpha
station bravo
hl alpha peer add bravo --key "$(hl bravo id)" --addr "$bravo_link" >/dev/null
hl bravo peer add alpha --key "$(hl alpha id)" --addr "$alpha_link" >/dev/null
hl alpha peer verify bravo --fingerprint "$(hl bravo id --fingerprint)" >/dev/null
hl bravo peer verify alpha --fingerprint "$(hl alpha id --fingerprint)" >/dev/null
# A third station, never started: a peer whose addresses may be changed.
hl charlie init --name charlie --listen "127.0.0.1:$(free_port)" --api "127.0.0.1:$(free_port)" >/dev/null 2>&1
hl alpha peer add charlie --key "$(hl charlie id)" --addr 127.0.0.1:9 >/dev/null
channel=$(hl alpha channel open bravo --contact-every 1h 2>/dev/null | tail -1)
hl bravo channel accept "$channel" >/dev/null
message=$(hl bravo send "$channel" --precedence immediate --subject "Status" "Confirm you read this line.")
request=$(hl bravo request "$channel" --deadline 1h --option yes --option no "Extend 48 h?")
# schemathesis acts as an admin of its own; the hooks keep it from revoking
# or rotating that user's token, which would leave it signed out.
token=$(hl alpha user add schemathesis --role admin 2>/dev/null)
export HOTLINE_ACTING_USER=schemathesis HOTLINE_CHANNEL=$channel
export HOTLINE_PEER=bravo HOTLINE_SPARE_PEER=charlie
export HOTLINE_COUNTERPART_API=http://$bravo_api HOTLINE_COUNTERPART_TOKEN=$(cat "$dir/bravo/admin.token")
export HOTLINE_ENTRY=$message HOTLINE_REQUEST=$request
export SCHEMATHESIS_HOOKS=$PWD/tests/api/hooks.py

echo "== GET /v1/openapi.json equals docs/openapi.json"
curl -fsS "http://$alpha_api/v1/openapi.json" -o "$dir/served.json"
if ! cmp -s "$dir/served.json" docs/openapi.json; then
  echo "the served document differs from docs/openapi.json:" \
    "run 'cargo run --bin hotline -- openapi > docs/openapi.json' and review the diff" >&2
  diff "$dir/served.json" docs/openapi.json | head -40 >&2
  exit 1
fi

echo "== schemathesis against alpha, http://$alpha_api"
# Left out: the event stream, which never ends (its refusals are tested in
# crates/station/tests/api.rs); and the check that every request valid by
# the document is accepted, since some rules cannot be said in a JSON schema
# (a key must be a real identity token, a deadline in the future, a choice
# one of the request's options), so such requests are rightly refused 400.
# Run from the temporary directory: schemathesis keeps a cache of past
# failures in ./.schemathesis and replays them first, and each run starts
# clean so that a seed always means the same requests.
start=$(date +%s)
(cd "$dir" && "$venv/bin/schemathesis" run "http://$alpha_api/v1/openapi.json" \
  --header "Authorization: Bearer $token" \
  --checks all --exclude-checks positive_data_acceptance \
  --exclude-operation-id events \
  --max-examples "${EXAMPLES:-100}" \
  --seed "${SEED:-7811}" \
  --workers 1 \
  --request-timeout 10 \
  --generation-database none \
  --no-color \
  "$@")
echo "schemathesis took $(($(date +%s) - start)) s"
# Whatever it sent, the station is still up and its audit log still verifies.
curl -fsS "http://$alpha_api/v1/health" >/dev/null
hl alpha --token "$token" audit export -o "$dir/audit.jsonl" 2>/dev/null
hl alpha audit verify "$dir/audit.jsonl" --key "$(hl alpha id)"
