# The two commands of the README:
#   make book   set up, execute every chapter at the default profile, build the HTML site
#   make test   set up, unit tests, every chapter at the smoke profile, site build, browser check
# Both do all their own set-up on a fresh machine (venv, pinned pip install, Debian data packages,
# MathJax for offline math).

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
MATHJAX := book/_static/mathjax/tex-svg-full.js
PROFILE ?= default
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: book test setup system-deps execute html unit clean lock

book: setup execute html
	@echo "Site: $(CURDIR)/_build/html/index.html"

test: setup
	$(BIN)/python -m pytest

setup: $(STAMP) system-deps $(MATHJAX)

# The pinned torch is PyPI's x86_64 build, which brings CUDA libraries: the venv takes about 6.2 GB.
# Check the space first, so a full disk fails here with its figure, not halfway through pip.
VENV_GB := 6.5

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c "import shutil, sys; free = shutil.disk_usage('.').free / 1e9; \
	sys.exit(0 if free >= $(VENV_GB) else \
	f'setup: {free:.1f} GB free on the disk of $(CURDIR); the venv needs about $(VENV_GB) GB '\
	'(torch 2.14.1 with its CUDA libraries). Free some space, then run make again.')"
	@$(PYTHON) -c "import sys; sys.exit(0 if sys.version_info >= (3, 11) else \
	f'setup: $(PYTHON) is Python {sys.version.split()[0]}; the pinned versions need 3.11 or later '\
	'(run make PYTHON=python3.11 ...)')"
	@$(PYTHON) -c "import ensurepip, venv" 2>/dev/null || { echo "setup: $(PYTHON) has no venv/ensurepip \
	module (Debian: apt-get install python3-venv)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	touch $@

# Fashion-MNIST (the book's real images) and Chromium (the browser check) come from Debian.
system-deps:
	@missing=""; \
	[ -d /usr/share/datasets/fashion-mnist ] || missing="$$missing dataset-fashion-mnist"; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  if command -v apt-get >/dev/null 2>&1 && { [ "$$(id -u)" = 0 ] || command -v sudo >/dev/null 2>&1; }; then \
	    $(SUDO) apt-get install -y --no-install-recommends $$missing >/dev/null 2>&1 || \
	    { $(SUDO) apt-get update -qq >/dev/null && $(SUDO) apt-get install -y --no-install-recommends $$missing >/dev/null; } || \
	    echo "warning: could not install$$missing (chapters using them will say how to get them)"; \
	  else echo "warning: no apt-get/root: install$$missing by hand"; fi; \
	fi

# MathJax 3 from the npm registry, served by the site itself so math renders offline.
$(MATHJAX):
	@command -v npm >/dev/null 2>&1 || { echo "setup: npm is needed to fetch MathJax for offline math \
	(Debian: apt-get install npm)"; exit 1; }
	mkdir -p .cache/mathjax $(dir $@)
	cd .cache/mathjax && npm pack --silent mathjax@3.2.2 >/dev/null && tar -xzf mathjax-3.2.2.tgz package/es5/tex-svg-full.js
	cp .cache/mathjax/package/es5/tex-svg-full.js $@

execute: setup
	$(BIN)/python -m mae_hlvm.book --profile $(PROFILE)

html: setup
	$(BIN)/jupyter-book build . -W -n --keep-going

unit: setup
	$(BIN)/python -m pytest -m "not book"

lock: $(STAMP)
	{ echo "# Pinned versions that 'make' installs (pip freeze of a working setup on Linux x86_64, Python 3.11)."; \
	  echo "# pyproject.toml declares the ranges; regenerate with: make lock"; \
	  $(BIN)/python -m pip freeze --exclude-editable; } > constraints.txt

clean:
	rm -rf _build book/executed runs
