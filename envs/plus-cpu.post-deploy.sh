#!/usr/bin/env bash
# Snakemake runs this once, inside the new env, from the directory it runs in (the repository root):
# install the `plus` package (its dependencies come from the env file, hence --no-deps).
set -euo pipefail
if [[ ! -f pyproject.toml ]]; then
    echo "post-deploy: run snakemake from the repository root (no pyproject.toml in $PWD)" >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation --editable "$PWD"
