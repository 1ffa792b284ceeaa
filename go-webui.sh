#!/usr/bin/env bash
# First run sets up .venv (a few minutes); later runs start at once.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup-env.sh
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} GRADIO_ANALYTICS_ENABLED=False
exec .venv/bin/python webui.py "$@"
