# Post-mortem knowledge base. `make run` and `make test` do all set-up.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
PG_TEST_URL ?= postgres://postgres@127.0.0.1:5432/kb
REDIS_TEST_URL ?= redis://127.0.0.1:6379/15
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test test-sqlite test-postgres install lint clean bench-import

$(BIN)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

## run: set up, load the demo organisation and serve on http://127.0.0.1:8000
run: install
	DEBUG=1 $(BIN)/python manage.py migrate --no-input
	DEBUG=1 $(BIN)/python manage.py load_demo
	DEBUG=1 $(BIN)/python manage.py detect_patterns
	DEBUG=1 $(BIN)/python manage.py runserver $(HOST):$(PORT)

## test: the whole suite on SQLite, then on PostgreSQL with Redis when they answer
test: install test-sqlite test-postgres

test-sqlite: install
	$(BIN)/python -m pytest -q

test-postgres: install
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		echo "== PostgreSQL + Redis suite =="; \
		DATABASE_URL=$(PG_TEST_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/python -m pytest -q; \
	else \
		echo "PostgreSQL is not answering on 127.0.0.1:5432: PostgreSQL suite skipped (see README)."; \
	fi

lint: install
	$(BIN)/ruff check kb postmortems tests blameless bench integrations followthrough insights reviews patterns operations deploy
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles

## bench-import: time the import of the 788 public incidents and a set of searches (SQLite, then PostgreSQL)
bench-import: install
	$(BIN)/python bench/import_search.py
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		DATABASE_URL=postgres://postgres@127.0.0.1:5432/kb_bench $(BIN)/python bench/import_search.py; fi

## worker: a Celery worker and ONE beat (daily digests, sweeps) against $REDIS_URL; Ctrl-C stops both.
## DEBUG defaults to 1 here, as in `make run`; set DEBUG=0 and SECRET_KEY for anything else.
.PHONY: worker
worker: install
	@test -n "$$REDIS_URL" || { echo "Set REDIS_URL (e.g. redis://127.0.0.1:6379/0): the worker needs Redis."; exit 1; }
	@export DEBUG=$${DEBUG-1}; \
	$(BIN)/celery -A kb beat --loglevel=INFO --schedule=$(VENV)/celerybeat-schedule & beat=$$!; \
	trap 'kill $$beat 2>/dev/null; wait $$beat 2>/dev/null' EXIT INT TERM; \
	$(BIN)/celery -A kb worker --loglevel=INFO

## bench: the benchmark suite (bench/run.py): synthetic corpora of BENCH_SIZES post-mortems on
## SQLite and PostgreSQL — import, search vs raw SQL / icontains / ripgrep, pages, load under
## gunicorn + wrk — written to bench/results.json and docs/benchmarks.md. Not part of `make test`
## (its quick mode, tests/bench/, is). Installs ripgrep and wrk with apt-get when they are missing.
BENCH_SIZES ?= 1000,10000,100000
# Past 10k documents the one-page view's "similar post-mortems" panel takes seconds per request
# on SQLite (see docs/benchmarks.md, Findings); raise this to measure SQLite at 100k anyway.
BENCH_SQLITE_MAX ?= 10000
.PHONY: bench
bench: install
	@command -v rg >/dev/null && command -v wrk >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq ripgrep wrk >/dev/null; }
	BENCH_SIZES=$(BENCH_SIZES) BENCH_SQLITE_MAX=$(BENCH_SQLITE_MAX) $(BIN)/python -m bench.run

## verify: the long proofs of tests/reliability (issue 9) — stored XSS executed in Chromium on
## every page, the backup and restore drill with a bigger seed, schemathesis over the API schema
## (≥ 1,000 requests), 8 concurrent If-Match writers for 30 s under gunicorn (PostgreSQL), … — on SQLite, then on
## PostgreSQL + Redis when they answer; they write their figures into docs/reliability.md.
## `make test` runs the same tests in a short form (and writes nothing).
VERIFY_TESTS ?= tests/reliability
.PHONY: verify verify-sqlite verify-postgres collectstatic
verify: install verify-sqlite verify-postgres

verify-sqlite: install
	KB_VERIFY=1 $(BIN)/python -m pytest -q $(VERIFY_TESTS)

verify-postgres: install
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		echo "== PostgreSQL + Redis proofs =="; \
		KB_VERIFY=1 DATABASE_URL=$(PG_TEST_URL) REDIS_URL=$(REDIS_TEST_URL) $(BIN)/python -m pytest -q $(VERIFY_TESTS); \
	else \
		echo "PostgreSQL is not answering on 127.0.0.1:5432: PostgreSQL proofs skipped."; \
	fi

## collectstatic: hashed, compressed static files into $$STATIC_ROOT for production
## (docs/deployment.md); needs the production environment (SECRET_KEY, HTTPS=1).
collectstatic: install
	HTTPS=$${HTTPS-1} $(BIN)/python manage.py collectstatic --no-input
