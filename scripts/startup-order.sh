#!/bin/bash
# Makes crates/cli/startup-order.txt: the functions an idle station runs
# (start-up, its timers for a few seconds, an answer to GET /v1/health,
# shutdown), which crates/cli/build.rs asks the linker (LLD) to place
# together. Run it after changes that move much code (new dependencies,
# a new Rust): names no longer found are passed over by the linker, so a
# stale list only orders less. Needs valgrind.
#
#   bash scripts/startup-order.sh            # builds release, writes the list
#   bash scripts/startup-order.sh --check    # how many of its names the
#                                            # release build holds
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = --check ]; then
  found=$(nm --defined-only target/release/hotline | awk '{print $3}' | sort -u |
    comm -12 - <(sort -u crates/cli/startup-order.txt) | wc -l)
  total=$(wc -l < crates/cli/startup-order.txt)
  echo "crates/cli/startup-order.txt: $found of $total names in target/release/hotline"
  if [ "$found" -lt "$total" ]; then
    echo "(the rest moved or were renamed since the list was made: run this script to make it again)"
  fi
  exit 0
fi
HOTLINE_NO_ORDER=1 cargo build --release --bin hotline
bin=target/release/hotline
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" init --data "$work/st" --name order >/dev/null
free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
api_port=$(free_port)
sed -i "s/^api = .*/api = \"127.0.0.1:$api_port\"/; s/^listen = .*/listen = \"127.0.0.1:$(free_port)\"/" "$work/st/config.toml"
valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/cg.out" \
  "$bin" serve --data "$work/st" >"$work/serve.log" 2>&1 &
pid=$!
token=$(cat "$work/st/admin.token")
for _ in $(seq 1 100); do
  curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port/v1/health" >/dev/null 2>&1 && break
  sleep 0.2
done
sleep 8
kill -INT "$pid"
wait "$pid" || true
# Every function named in the profile (run or called), as the executable
# spells it, without callgrind's recursion marks; only those it defines.
python3 - "$work/cg.out" "$bin" > crates/cli/startup-order.txt <<'PYX'
import re, subprocess, sys
names = set()
for line in open(sys.argv[1]):
    m = re.match(r"^c?fn=\(\d+\) (.+)$", line.rstrip("\n"))
    if m:
        names.add(re.sub(r"'\d+$", "", m.group(1)))
nm = subprocess.run(["nm", "--defined-only", sys.argv[2]], capture_output=True, text=True).stdout
defined = {p[2] for p in (l.split() for l in nm.splitlines()) if len(p) == 3 and p[1] in "tTwW"}
print("\n".join(sorted(names & defined)))
PYX
echo "crates/cli/startup-order.txt: $(wc -l < crates/cli/startup-order.txt) functions"
