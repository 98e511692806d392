# The two README commands, plus helpers for developers.
.PHONY: run test lint bench

run:  ## Install on first run, migrate, serve API + SPA at http://127.0.0.1:8000
	@scripts/run.sh

test:  ## Every check and test (SQLite and PostgreSQL)
	@scripts/test.sh

lint:
	@scripts/bootstrap.sh && .venv/bin/ruff check backend tests bench migrations && .venv/bin/mypy
