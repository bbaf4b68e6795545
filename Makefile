# Atrium: one command to try it (`make run`), one to test it (`make test`).
# Only Python 3.11+, git and make are needed; everything else is installed
# into .venv/ from the pinned files in requirements/.

PYTHON ?= python3
VENV   ?= .venv
HOST   ?= 127.0.0.1
PORT   ?= 8000
BIN     = $(VENV)/bin
MANAGE  = $(BIN)/python manage.py
STAMP   = $(VENV)/.installed
# What `make install` writes for Atrium's Terraform provider (see the rule below).
TF_PROVIDER = var/terraformrc

# Databases the suite runs on in `make test` (PostgreSQL and SQLite) and the
# Redis used for the channel layer in the PostgreSQL run.
TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/atrium
TEST_REDIS_URL    ?= redis://127.0.0.1:6379/15

export PYTHONDONTWRITEBYTECODE = 1

.PHONY: test-openstack run serve install migrate demo test test-sqlite test-postgres lint check-deploy \
        check-migrations schema schema-check typecheck format lock vendor bench fuzz clean

## make run: install, migrate, load the demo data and serve web + worker
## (supervisord.conf: the worker is restarted if it dies; Ctrl-C stops both).
run: install migrate demo
	@$(BIN)/python -m portal.banner --host $(HOST) --port $(PORT)
	@$(SUPERVISE)

## make serve: only serve (no install/migrate).
serve:
	$(SUPERVISE)

SUPERVISE = mkdir -p var && PATH="$(abspath $(BIN)):$$PATH" HOST=$(HOST) PORT=$(PORT) $(BIN)/supervisord -c supervisord.conf

install: $(STAMP) $(TF_PROVIDER)

## Atrium's own Terraform provider (apps/platforms/provider) as a filesystem mirror in
## var/terraform-plugins, and var/terraformrc, the CLI configuration to run Terraform with
## (TF_CLI_CONFIG_FILE). Made again only when the provider's code or the environment changed.
$(TF_PROVIDER): $(STAMP) $(wildcard apps/platforms/provider/*.py)
	$(BIN)/python -m apps.platforms.provider.install var
	@touch $@

$(STAMP): requirements/base.txt requirements/dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Atrium needs Python 3.11 or newer (found $$($(PYTHON) --version))."; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements/base.txt -r requirements/dev.txt
	touch $(STAMP)

migrate: install
	@mkdir -p var
	$(MANAGE) migrate --noinput

demo: install
	$(MANAGE) load_demo

## make test: the whole suite, as CI runs it.
test: install lint typecheck check-deploy check-migrations schema-check test-postgres test-sqlite

test-sqlite: install
	DATABASE_URL= REDIS_URL= ATRIUM_TEST_REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

test-postgres: install
	@$(BIN)/python -m portal.wait_for $(TEST_POSTGRES_URL) $(TEST_REDIS_URL)
	DATABASE_URL=$(TEST_POSTGRES_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest $(PYTEST_ARGS)

## make test-openstack: the driver contract suite against real OpenStack services
## (Keystone, Nova with the fake driver, Neutron, Glance, Placement, Blazar) that
## tests/openstack/up.sh starts on loopback (~3 min the first time, ~2 GB), then stops.
OSRIG_DIR ?= /tmp/atrium-osrig
# How the contract suite signs in to the rig: `application_credential` (as
# production does; the default, so CI proves that path), or `password` (the demo
# member). The host-lease scenario once failed only with an application
# credential: Blazar's expected 500 "Not enough hosts available" for an
# oversized lease was rewritten by the driver's trust-escalation hint, which it
# applied to every 500 under application-credential auth (fixed in the driver).
OPENSTACK_AUTH ?= application_credential
test-openstack: install
	OSRIG_DIR=$(OSRIG_DIR) bash tests/openstack/up.sh
	@status=0; \
	DATABASE_URL=$(TEST_POSTGRES_URL) REDIS_URL=$(TEST_REDIS_URL) \
	  ATRIUM_TEST_OPENSTACK_CLOUDS_YAML=$(OSRIG_DIR)/clouds.yaml ATRIUM_TEST_OPENSTACK_AUTH=$(OPENSTACK_AUTH) \
	  $(BIN)/pytest tests/contract -p no:randomly -rs --timeout=1200 $(PYTEST_ARGS) || status=$$?; \
	OSRIG_DIR=$(OSRIG_DIR) bash tests/openstack/down.sh; \
	exit $$status

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: install
	$(BIN)/mypy

check-deploy: install
	DJANGO_SETTINGS_MODULE=portal.settings.production SECRET_KEY=ci-$$(date +%s%N)-not-a-real-secret-key-0123456789 \
	  ALLOWED_HOSTS=atrium.example.org DATABASE_URL=sqlite:///var/ci-deploy.sqlite3 ATRIUM_ENCRYPTION_SALT=ci-salt \
	  $(MANAGE) check --deploy --fail-level WARNING

check-migrations: install
	$(MANAGE) makemigrations --check --dry-run

## The OpenAPI schema is checked in (docs/openapi.yaml); `make schema` updates it.
schema: install
	$(MANAGE) spectacular --validate --fail-on-warn --file docs/openapi.yaml

schema-check: install
	@mkdir -p var
	$(MANAGE) spectacular --validate --fail-on-warn --file var/openapi.yaml
	diff -u docs/openapi.yaml var/openapi.yaml || \
	  { echo "docs/openapi.yaml is out of date: run 'make schema' and commit it."; exit 1; }

## make fuzz: only the API fuzz (tests/fuzz; `make test` runs it in its PostgreSQL run):
## schemathesis over docs/openapi.yaml against a real server. FUZZ_SECONDS bounds the fresh examples.
fuzz: install
	@$(BIN)/python -m portal.wait_for $(TEST_POSTGRES_URL) $(TEST_REDIS_URL)
	DATABASE_URL=$(TEST_POSTGRES_URL) REDIS_URL=$(TEST_REDIS_URL) $(BIN)/pytest tests/fuzz -p no:randomly -rs $(PYTEST_ARGS)

## make bench: benchmarks in tests/perf (or PYTEST_ARGS=tests/perf/bench_openstack.py); figures, no pass/fail on time.
bench: install
	$(BIN)/python -m pytest $(or $(PYTEST_ARGS),tests/perf) -o python_files="bench_*.py" -p no:randomly -s -q --timeout=3600

## Maintainers: re-pin Python dependencies / re-vendor front-end files.
lock: install
	cd requirements && ../$(BIN)/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o base.txt base.in
	cd requirements && ../$(BIN)/pip-compile -q --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links -o dev.txt dev.in

vendor:
	npm ci --no-audit --no-fund
	rm -rf static/vendor && mkdir -p static/vendor/htmx static/vendor/bootstrap static/vendor/bootstrap-icons/fonts
	cp node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-ws/dist/ws.min.js static/vendor/htmx/
	cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map \
	   node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map \
	   static/vendor/bootstrap/
	cp node_modules/bootstrap-icons/font/bootstrap-icons.min.css static/vendor/bootstrap-icons/
	cp node_modules/bootstrap-icons/font/fonts/bootstrap-icons.woff2 node_modules/bootstrap-icons/font/fonts/bootstrap-icons.woff \
	   static/vendor/bootstrap-icons/fonts/
	for p in htmx.org htmx-ext-ws bootstrap bootstrap-icons; do \
	  node -e "const p=require('./node_modules/'+process.argv[1]+'/package.json');console.log(p.name+' '+p.version+' '+p.license)" $$p; \
	done > static/vendor/VERSIONS.txt

clean:
	rm -rf $(VENV) var node_modules .mypy_cache .pytest_cache .ruff_cache
