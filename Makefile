# The two commands the README promises: `make demo` and `make test`. Both build .venv on first use.
.PHONY: demo test test-django52 venv-django52 lint format bench bench-smoke clean package matrix messages schemathesis fuzz model mutants

demo:  ## the demo shop: sandbox, worker and dev server on SQLite; prints URLs and the admin login
	@scripts/demo.sh

test:  ## the whole test suite (pass ARGS="-k something" to narrow it)
	@scripts/test.sh $(ARGS)

DJANGO52 = VENV=.venv-django52 MIN_PYTHON=3.11 EXACT_PYTHON=1 DJANGO="django>=5.2,<6.0"

test-django52:  ## the suite on Django 5.2 LTS and Python 3.11, in .venv-django52
	@$(DJANGO52) scripts/test.sh -m "not browser" $(ARGS)

venv-django52:  ## build (or refresh) .venv-django52 without running anything
	@$(DJANGO52) scripts/bootstrap.sh >/dev/null

lint:  ## ruff, mypy and the migrations check, as CI runs them
	@py=$$(scripts/bootstrap.sh | tail -n 1); $$py -m ruff check . && $$py -m ruff format --check . \
	  && $$py -m mypy flinks_sessions \
	  && DJANGO_SETTINGS_MODULE=tests.settings $$py -m django makemigrations --check --dry-run

messages:  ## refresh and compile the French catalogues (fails on anything untranslated or fuzzy)
	@scripts/messages.sh

format:
	@py=$$(scripts/bootstrap.sh | tail -n 1); $$py -m ruff format . && $$py -m ruff check --fix .

package:  ## build the sdist and wheel, inspect them, twine check, install the wheel fresh and smoke-test it
	@scripts/package-smoke.sh

matrix:  ## the nox support matrix; default its core (ARGS="-l" lists, ARGS="-s minimal-3.13", ARGS="-t postgres")
	@py=$$(scripts/bootstrap.sh | tail -n 1); $$py -m nox $(if $(ARGS),$(ARGS),-t core)

fuzz:  ## a longer, randomly seeded fuzz of the parsers, signatures and exit token (at most 5 minutes)
	@FLINKS_FUZZ_EXAMPLES=$${FLINKS_FUZZ_EXAMPLES:-1000} timeout 300 scripts/test.sh -q -p no:cacheprovider tests/fuzz $(ARGS)

schemathesis:  ## fuzz the app's endpoints on a running example project against their OpenAPI schema (drf-spectacular)
	@scripts/schemathesis.sh

model:  ## model-check the claim protocol (cancel, guarantee, restart) with SPIN (docs/model/README.md); installs spin if missing
	@scripts/check-model.sh

mutants:  ## the mutant gate: each guard in scripts/mutants.ini broken in a copy, its tests must fail (ARGS=NAME...)
	@scripts/check-mutants.sh $(ARGS)

# The scripts, without bench/benchdb.py (what they share).
BENCHES := $(filter-out bench/benchdb.py,$(wildcard bench/*.py))

bench:  ## every benchmark; each prints its figures (all run; the ones that missed a target are named at the end)
	@py=$$(scripts/bootstrap.sh | tail -n 1); missed=""; for b in $(BENCHES); do echo "==> $$b"; \
	  $$py $$b || missed="$$missed $$b"; done; \
	  if [ -n "$$missed" ]; then echo "missed a target or failed:$$missed"; exit 1; fi

bench-smoke:  ## every benchmark at a tiny size (seconds each, no target checked): a broken bench fails here
	@py=$$(scripts/bootstrap.sh | tail -n 1); mkdir -p var; for b in $(BENCHES); do echo "==> $$b --smoke"; \
	  $$py $$b --smoke >var/bench-smoke.log 2>&1 || { cat var/bench-smoke.log; exit 1; }; done; \
	  echo "every bench ran at its smoke size"

clean:
	rm -rf .venv .venv-django52 var .pytest_cache .mypy_cache .ruff_cache dist build .nox
