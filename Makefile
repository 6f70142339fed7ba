# Two commands for a newcomer: `make demo` and `make test`. Both install what they need.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: setup translations demo shop test lint bench clean

setup: $(VENV)/.installed node_modules/.installed examples/receivers/node/node_modules/.installed translations

# the pages' Chinese catalogs: .po files in git, compiled to .mo when they change
translations: $(VENV)/.installed
	$(BIN)/python -m gateway.web.catalogs compile

$(VENV)/.installed: pyproject.toml clients/python/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,demo]'
	# the API's Python client, used by the examples and tested against the gateway
	$(BIN)/pip install --quiet -e clients/python
	$(BIN)/pip check
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# the Node webhook receiver example (express + standardwebhooks), run by its test
examples/receivers/node/node_modules/.installed: examples/receivers/node/package.json examples/receivers/node/package-lock.json
	cd examples/receivers/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# `python -m` from the checkout: the demo's devnet tooling (devtools/) is not installed
demo: setup
	$(BIN)/python -m gateway demo

# the example shop beside the demo gateway: a devnet buyer pays what you order
shop: setup
	$(BIN)/python -m examples.shop --demo

# pytest's exit code 5 means "no tests collected", which is not a failure here
test: setup
	$(BIN)/pytest $(PYTEST_ARGS); rc=$$?; [ $$rc -eq 5 ] && exit 0; exit $$rc

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# every benchmark, then one table of today's figures in bench/results.md
bench: setup
	$(BIN)/python -m bench.scan_cost
	$(BIN)/python -m bench.order_create
	$(BIN)/python -m bench.latency
	$(BIN)/python -m bench.webhooks
	$(BIN)/python -m bench.webhooks --database postgresql+psycopg://postgres@127.0.0.1:5432/test
	$(BIN)/python -m bench.report scan_cost order_create latency webhooks_sqlite webhooks_postgresql

clean:
	rm -rf $(VENV) node_modules .demo instance
