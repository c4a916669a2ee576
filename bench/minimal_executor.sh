#!/bin/sh
# The minimal executor of the throughput benchmark: POSIX sh, builtins only, no forks.
#
# Throughput needs neither timestamps (the outside overhead figure) nor directives from the flow
# document, so it does not need bash (minimal_executor.bash): dash starts in about half bash's
# CPU time (1.2 against 2.4 ms per execution here, docs/benchmarks.md runner item 20), which on
# two shared cores is CPU the runner being measured gets back. It honours the upstream command
# line and writes state.json, and nothing else.
set -eu
id="" flow="" manifest="" previous=""
for argument in "$@"; do
  case "$previous" in
    --id) id=$argument ;;
    --flow) flow=$argument ;;
    --manifest) manifest=$argument ;;
  esac
  case "$argument" in --version) printf '0.0.bench'; exit 0 ;; esac
  previous=$argument
done
if [ -n "$manifest" ]; then
  printf '{}' > "$manifest"
  exit 0
fi
umask 077
printf '{"id":"%s","flow_id":"%s","status":0,"duration":0,"billing_duration":0,"outputs":{}}' \
  "$id" "$flow" > state.json
