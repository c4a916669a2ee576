# Conveniences; every target is a thin wrapper around a script.
.PHONY: demo test test-all bench bench-flows bench-executor bench-server bench-local bench-startup reference

demo:
	./scripts/demo

test:
	./scripts/test

test-all:
	./scripts/test --all

bench: ## runner figures of issue 7 (about 2-3 minutes)
	./scripts/bootstrap
	.venv/bin/python bench/runner_bench.py

bench-flows: ## 4-node flows through runner + server + flomation-executor, warm and spawned (issue 19)
	./scripts/bootstrap
	.venv/bin/python bench/flow_bench.py

bench-executor:
	./scripts/bootstrap
	.venv/bin/python bench/executor_bench.py

bench-server:
	./scripts/bootstrap
	.venv/bin/python bench/server_bench.py

bench-local: ## the edit-run loop: flomation-runner local examples/hello.flow.json (issue 14)
	./scripts/bootstrap
	.venv/bin/python bench/local_bench.py

bench-startup: ## runner fresh start: CPU to the first long poll and idle RSS (issue 19)
	./scripts/bootstrap
	.venv/bin/python bench/startup_bench.py

reference: ## regenerate docs/nodes.md, the flow JSON Schema and docs/admin-api.md from the code
	.venv/bin/python -m flomation.executor.reference
	.venv/bin/python -m flomation.server.openapi
