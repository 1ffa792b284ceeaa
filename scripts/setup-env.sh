#!/usr/bin/env bash
# Create or update .venv idempotently. Re-installs only when a requirements file changed.
#   scripts/setup-env.sh            runtime packages
#   scripts/setup-env.sh --dev      runtime + test packages, plus the system tools tests need
set -euo pipefail
cd "$(dirname "$0")/.."
req=requirements.txt
[ "${1:-}" = "--dev" ] && req=requirements-dev.txt
py=${PYTHON:-python3}

if [ "${1:-}" = "--dev" ]; then
  need=()
  command -v espeak-ng >/dev/null || need+=(espeak-ng)
  command -v sox >/dev/null || need+=(sox libsox-fmt-all)
  command -v ffmpeg >/dev/null || need+=(ffmpeg)
  command -v chromium >/dev/null || need+=(chromium)
  # the official Japanese readings (OpenJTalk 1.11 + NAIST dictionary, the engine the official goldens used)
  command -v open_jtalk >/dev/null || need+=(open-jtalk open-jtalk-mecab-naist-jdic)
  # a CJK font, so that browser screenshots of Chinese/Japanese text are readable (not boxes)
  if command -v fc-list >/dev/null && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then need+=(fonts-wqy-zenhei); fi
  command -v fc-list >/dev/null || need+=(fontconfig fonts-wqy-zenhei)
  if [ ${#need[@]} -gt 0 ]; then
    sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing system packages: ${need[*]}"
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

[ -x .venv/bin/python ] || "$py" -m venv .venv
stamp=.venv/.installed-$(cat requirements.txt "$req" constraints.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -c constraints.txt -r "$req" 2> >(grep -v "is ignored: it is neither" >&2)
  touch "$stamp"
fi
