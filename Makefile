# Tulou: `make run` and `make test` do every set-up step on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PLUGIN_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard plugins/*/pyproject.toml))
INSTALLED := $(VENV)/.installed
# Each catalogue: <locale dir>:<domain>:<source dir>
CATALOGUES := core/tulou/i18n/locale:tulou:core/tulou $(foreach p,$(PLUGIN_DIRS),$(p)/tulou_$(notdir $(p))/locale:$(notdir $(p)):$(p)/tulou_$(notdir $(p)))
TEST_PG_URL ?= postgres://postgres@127.0.0.1:5432/postgres
# Each pass spreads its test files over this many processes (pytest-xdist).
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q

.PHONY: run test test-sqlite test-postgres bench i18n translations install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip "setuptools>=77" wheel

$(INSTALLED): $(BIN)/python pyproject.toml $(wildcard plugins/*/pyproject.toml)
	$(BIN)/pip install -q -e ".[test]" $(foreach p,$(PLUGIN_DIRS),-e ./$(p))
	touch $@

install: $(INSTALLED) translations

## Compile every .po catalogue into the .mo file the app loads.
translations: $(INSTALLED)
	@for entry in $(CATALOGUES); do \
		dir=$${entry%%:*}; rest=$${entry#*:}; domain=$${rest%%:*}; \
		$(BIN)/pybabel -q compile -d $$dir -D $$domain || exit 1; \
	done

## Extract messages, update the zh_CN and en catalogues, compile them.
i18n: $(INSTALLED)
	@for entry in $(CATALOGUES); do \
		dir=$${entry%%:*}; rest=$${entry#*:}; domain=$${rest%%:*}; src=$${rest#*:}; \
		$(BIN)/pybabel -q extract -F babel.cfg -k lazy_gettext -k gettext -k _ --no-location --sort-output \
			--project tulou -o $$dir/$$domain.pot $$src || exit 1; \
		for locale in zh_CN en; do \
			if [ -f $$dir/$$locale/LC_MESSAGES/$$domain.po ]; then \
				$(BIN)/pybabel -q update --no-fuzzy-matching --ignore-obsolete -i $$dir/$$domain.pot -d $$dir -D $$domain -l $$locale || exit 1; \
			else \
				$(BIN)/pybabel -q init -i $$dir/$$domain.pot -d $$dir -D $$domain -l $$locale || exit 1; \
			fi; \
		done; \
	done
	@$(MAKE) --no-print-directory translations

run: install
	@mkdir -p var
	$(BIN)/tulou migrate
	$(BIN)/tulou demo
	@$(BIN)/tulou identity new-keys
	@$(BIN)/tulou admin create admin --generate
	$(BIN)/tulou serve

## Both passes at once (tests/both_passes.sh); `make test-sqlite` or `make test-postgres` runs one.
test: install
	bash tests/services.sh
	MAKE="$(MAKE)" bash tests/both_passes.sh

## One pass: every test but the browser's spread over TEST_WORKERS processes, then the browser's in
## one (Playwright's sync API keeps an event loop in the process, and no async test may follow it there).
test-sqlite: install
	TULOU_TEST_DATABASE=sqlite $(PYTEST) -n $(TEST_WORKERS) --dist loadfile -m "not browser" $(PYTEST_ARGS)
	TULOU_TEST_DATABASE=sqlite $(PYTEST) -m browser $(PYTEST_ARGS)

test-postgres: install
	TULOU_TEST_DATABASE=$(TEST_PG_URL) $(PYTEST) -n $(TEST_WORKERS) --dist loadfile -m "not browser" $(PYTEST_ARGS)
	TULOU_TEST_DATABASE=$(TEST_PG_URL) $(PYTEST) -m browser $(PYTEST_ARGS)

bench: install
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	bash tests/services.sh
	$(BIN)/pip install -q -e ".[bench]"
	$(BIN)/python tests/bench/run.py
	$(BIN)/python tests/bench/telemetry.py
	$(BIN)/python tests/bench/telemetry_query.py
	$(BIN)/python tests/bench/mqtt.py

clean:
	rm -rf $(VENV) var
