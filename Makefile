# The handful of commands a newcomer types. See README.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000

.PHONY: install run test lint format bench worker clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/pip || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $(STAMP)

run: install
	TSUNAGI_ENV=$${TSUNAGI_ENV:-development} PORT=$(PORT) $(BIN)/python -m run

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Each prints its figures side by side with a baseline measured in the same run.
bench: install
	$(BIN)/python -m bench.webhook
	$(BIN)/python -m bench.worker
	$(BIN)/python -m bench.rules
	$(BIN)/python -m bench.economics
	$(BIN)/python -m bench.handoff
	$(BIN)/python -m bench.auth

worker: install
	$(BIN)/rq worker --worker-class bot.worker.Worker --url "$${REDIS_URL:?set REDIS_URL to the Redis the web process uses (make run needs no worker)}" tsunagi

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
