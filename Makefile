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
	$(BIN)/ruff check kb postmortems tests
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-* staticfiles

## bench-import: time the import of the 788 public incidents and a set of searches (SQLite, then PostgreSQL)
bench-import: install
	$(BIN)/python bench/import_search.py
	@if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then \
		DATABASE_URL=postgres://postgres@127.0.0.1:5432/kb_bench $(BIN)/python bench/import_search.py; fi
