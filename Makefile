# The two commands a newcomer needs: `make run` and `make test`. Both install what is missing.
# uv comes from PyPI into .tools/ when it is not on the PATH; everything else from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
RUN := $(UV) run --frozen

.PHONY: install run test test-fast lint schemas clean test-tools demo bench soak

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

.venv/.installed: $(UV) uv.lock pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml cli/pyproject.toml
	$(UV) sync --frozen --all-packages
	@touch $@

install: .venv/.installed  ## install every package into .venv

run: install  ## the whole system: broker, migrations, four services (SQLite under var/)
	$(RUN) python scripts/run_local.py

demo: install  ## a year of contacts (2025-26, a district) through the APIs of a running `make run`
	$(RUN) contactctl demo load --year 2025-26 --scale $${SCALE:-1.0} --seed 7 \
		--api-key "$${DEV_API_KEY:-$$(cat $${VAR_DIR:-var}/dev-admin-key)}" \
		--enquiry-url http://127.0.0.1:$${ENQUIRY_PORT:-8001} \
		--complaints-url http://127.0.0.1:$${COMPLAINTS_PORT:-8002}

test: lint test-tools  ## lint (ruff, mypy), then the whole suite against PostgreSQL and the broker
	$(RUN) pytest

# Tools the tests drive that PyPI does not carry: Debian's Chromium (the dashboard test),
# docker-compose (validates deploy/docker-compose.yml without an engine) and npm's axe-core (the
# dashboard's accessibility checks). Installed where we may.
DEBIAN_TEST_TOOLS := chromium:chromium docker-compose:docker-compose
test-tools:
	@missing=""; for pair in $(DEBIAN_TEST_TOOLS); do command -v $${pair%%:*} >/dev/null 2>&1 || \
		missing="$$missing $${pair##*:}"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "please install:$$missing (Debian packages) for the whole suite to pass"; fi; fi
	@# axe-core, which the dashboard's browser tests load into the page (pinned by its lock file).
	@command -v npm >/dev/null 2>&1 && npm ci --silent --prefix services/metrics-api/tests/browser \
		|| echo "please install npm (Node.js) for the dashboard's accessibility checks"

test-fast: install  ## all but the cross-process end-to-end tests (tests/e2e)
	$(RUN) pytest -m "not e2e" libs services cli

bench: install  ## the benchmarks (20-30 minutes), written up in BENCHMARKS.md; not in `make test`
	$(RUN) python bench/run.py $(BENCH_ARGS)

# A fault soak (tests/faults/soak.py): contacts at a steady rate for SOAK_MINUTES while a seeded
# random schedule of faults hits the whole system; a table of what was lost or doubled. Not in
# `make test` (which runs a 75 s one); SOAK_SEED repeats a schedule, random when not given;
# SOAK_RATE contacts a second (4).
SOAK_MINUTES ?= 10
soak: install  ## the fault soak (SOAK_MINUTES, default 10; SOAK_SEED), against PostgreSQL
	$(RUN) python tests/faults/soak.py --minutes $(SOAK_MINUTES) $(if $(SOAK_SEED),--seed $(SOAK_SEED)) \
		$(if $(SOAK_RATE),--rate $(SOAK_RATE))

lint: install  ## ruff, and mypy --strict over every package's src/ (config in pyproject.toml)
	$(RUN) ruff check .
	$(RUN) mypy

schemas: install  ## regenerate docs/events (JSON Schemas and the AsyncAPI document)
	$(RUN) python -m contact_common.events.export docs/events

clean:
	rm -rf .venv .tools var .pytest_cache
