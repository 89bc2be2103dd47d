# tinyml: `make run` and `make test` install everything they need on a fresh Debian 12 machine
# (as root): apt packages, a .venv with the pinned Python stack, PlatformIO set up offline.
# Run again, they only redo what changed.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := $(CURDIR)/.venv
BIN := $(VENV)/bin
STAMPS := $(CURDIR)/.stamps

# Data: ../shared beside the checkout unless told otherwise. Nothing from it is copied here.
export TINYML_SHARED ?= $(abspath $(CURDIR)/../shared)
export TINYML_DATA ?= $(TINYML_SHARED)/datasets/speech_commands_v0.02
MLPERF_MODEL ?= $(TINYML_SHARED)/models/mlperf_tiny_kws/kws_ref_model.tflite

# PlatformIO runs offline, from a core folder inside the checkout.
export PLATFORMIO_CORE_DIR ?= $(CURDIR)/.pio-core
export PLATFORMIO_SETTING_ENABLE_TELEMETRY := No
export PLATFORMIO_SETTING_CHECK_PLATFORMIO_INTERVAL := 3650
export PLATFORMIO_SETTING_CHECK_PRUNE_SYSTEM_THRESHOLD := 0
export TF_USE_LEGACY_KERAS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

APT_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm gcc make python3-venv
APT_TOOLS := arm-none-eabi-gcc qemu-system-arm gcc

.PHONY: help setup run test lint bench clean

help:
	@echo "make run    install everything, build and evaluate the MLPerf KWS model on qemu-m4"
	@echo "make test   install everything, run the tests"
	@echo "make lint   ruff"
	@echo "make bench  instruction/RAM/flash benchmarks against the CMSIS-NN baseline"

$(STAMPS):
	@mkdir -p $@

# apt: only when a tool is missing (apt-get update is slow).
$(STAMPS)/apt: | $(STAMPS)
	@missing=""; for t in $(APT_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ] || [ ! -f /usr/lib/arm-none-eabi/newlib/libc.a -a ! -d /usr/lib/arm-none-eabi/lib ]; then \
		echo "installing apt packages (missing:$$missing)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $(APT_PACKAGES); \
	fi
	@touch $@

$(STAMPS)/venv: pyproject.toml setup.py $(wildcard firmware/frontend/*.c firmware/frontend/*.h toolchain/frontend/*.c) | $(STAMPS)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

$(STAMPS)/platformio: $(STAMPS)/venv $(STAMPS)/apt $(wildcard boards/platform/*.json boards/platform/*.py) | $(STAMPS)
	@if [ -f host/pio_offline.py ]; then $(BIN)/python -m host.pio_offline; fi
	@touch $@

setup: $(STAMPS)/apt $(STAMPS)/venv $(STAMPS)/platformio

run: setup
	@test -f "$(MLPERF_MODEL)" || { echo "make run: the MLPerf KWS model is not at $(MLPERF_MODEL) (set TINYML_SHARED to the shared data folder)"; exit 1; }
	@test -d "$(TINYML_DATA)" || { echo "make run: no Speech Commands data at $(TINYML_DATA). The data comes from TINYML_DATA (default: \$$TINYML_SHARED/datasets/speech_commands_v0.02, with TINYML_SHARED=$(TINYML_SHARED)); point TINYML_DATA at a folder of <label>/*.wav clips."; exit 1; }
	@echo "make run: data from $(TINYML_DATA), model $(MLPERF_MODEL)"
	$(BIN)/tinyml build --board qemu-m4 --model $(MLPERF_MODEL)
	$(BIN)/tinyml eval --board qemu-m4 --model $(MLPERF_MODEL) --data $(TINYML_DATA) --limit 200 --report build/report

test: setup
	$(BIN)/python -m pytest -q -n 2 --durations=15

lint: setup
	$(BIN)/ruff check toolchain host tests bench

bench: setup
	@for b in bench/*.py; do [ -f "$$b" ] && $(BIN)/python "$$b" || true; done

clean:
	rm -rf build .pio $(STAMPS)
