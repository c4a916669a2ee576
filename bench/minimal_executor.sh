#!/bin/sh
# The minimal executor of the throughput benchmark: POSIX sh, builtins only, no forks.
#
# Throughput needs neither timestamps (the outside overhead figure) nor directives from the flow
# document, so it does not need bash (minimal_executor.bash): dash starts in about half bash's
# CPU time (1.3 against 2.3 ms per execution here, docs/benchmarks.md runner item 20), which on
# two shared cores is CPU the runner being measured gets back. It honours the upstream command
# line and writes state.json, and nothing else.
set -eu
. "${0%/*}/minimal_executor_args.sh"
umask 077
printf '{"id":"%s","flow_id":"%s","status":0,"duration":0,"billing_duration":0,"outputs":{}}' \
  "$id" "$flow" > state.json
