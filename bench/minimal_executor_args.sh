# The upstream executor command line, for the minimal executors (minimal_executor.sh and
# minimal_executor.bash source this file; POSIX sh, builtins only). Sets id, flow and path;
# answers --version and writes an empty --manifest itself, then exits.
id="" flow="" manifest="" path="execution.flow" previous=""
for argument in "$@"; do
  case "$previous" in
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
