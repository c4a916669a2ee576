#!/bin/bash
# The minimal executor for the overhead and scale benchmarks, in bash without forks.
#
# A Python interpreter needs ~20 ms of CPU just to start, which on two cores would cap any runner
# near 100 executions/s by itself. A POSIX sh script that calls `date`, `cat` and `sed` still
# forks four processes (~9.6 ms of CPU per execution, measured); bash reads the clock
# ($EPOCHREALTIME), the flow file and the directive with builtins (~2.7 ms), so what the
# benchmarks see is the runner's own cost. It honours the upstream command line, writes
# state.json, and reads one directive from the flow document: "sleep_s". A flow asking for "lines"
# (the log forwarding case, which measures write stalls) is handed to minimal_executor.py.
set -eu
. "${0%/*}/minimal_executor_args.sh"
started_at=$EPOCHREALTIME
IFS= read -r -d '' document < "$path" || true
if [[ $document == *'"lines"'* ]]; then
  exec "${MINIMAL_EXECUTOR_PYTHON:-python3}" -S "${0%/*}/minimal_executor.py" "$@"
fi
if [[ $document =~ \"sleep_s\":\ *([0-9.]+) ]]; then sleep "${BASH_REMATCH[1]}"; fi
exited_at=$EPOCHREALTIME
umask 077
printf '{"id":"%s","flow_id":"%s","status":0,"duration":0,"billing_duration":0,"outputs":{"started_at":%s,"exited_at":%s}}' \
  "$id" "$flow" "$started_at" "$exited_at" > state.json
