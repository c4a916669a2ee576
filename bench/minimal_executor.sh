#!/bin/sh
# The minimal executor for the overhead, throughput and scale benchmarks, in POSIX sh.
#
# A Python interpreter needs ~20 ms of CPU just to start, which on two cores would cap any runner
# near 100 executions/s by itself; sh starts in about a millisecond, so what the benchmarks see
# is the runner's own cost. It honours the upstream command line, writes state.json, and reads
# one directive from the flow document: "sleep_s". A flow asking for "lines" (the log forwarding
# case, which measures write stalls) is handed to minimal_executor.py.
set -eu
id="" flow="" manifest="" path="execution.flow"
for argument in "$@"; do
  case "${previous:-}" in
    --id) id=$argument ;;
    --flow) flow=$argument ;;
    --manifest) manifest=$argument ;;
    --path) path=$argument ;;
  esac
  case "$argument" in --version) printf '0.0.bench'; exit 0 ;; esac
  previous=$argument
done
if [ -n "$manifest" ]; then
  printf '{}' > "$manifest"
  exit 0
fi
started_at=$(date +%s.%N)
document=$(cat "$path")
case "$document" in
  *'"lines"'*) exec "${MINIMAL_EXECUTOR_PYTHON:-python3}" -S "$(dirname "$0")/minimal_executor.py" "$@" ;;
esac
sleep_s=$(printf '%s' "$document" | sed -n 's/.*"sleep_s": *\([0-9.]*\).*/\1/p')
if [ -n "$sleep_s" ]; then sleep "$sleep_s"; fi
exited_at=$(date +%s.%N)
umask 077
printf '{"id":"%s","flow_id":"%s","status":0,"duration":0,"billing_duration":0,"outputs":{"started_at":%s,"exited_at":%s}}' \
  "$id" "$flow" "$started_at" "$exited_at" > state.json
