#!/usr/bin/env bash
# Set up a fresh machine: Debian packages, .venv, exact pins from requirements.lock.
# Idempotent: each step is skipped when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(espeak-ng libespeak-ng1 apertium apertium-urd-hin)
# --tests: also what the test suite drives for real: Debian's Chromium (the Prefect UI check) and
# Festival with the C-DAC Hindi, Marathi and Telugu voices (the Festival TTS backend).
# festival-hi/-mr/-te hold each voice's phone set and lexicon (hindi_phones.scm...): the voice packages only
# recommend them, and --no-install-recommends would leave voices that fail on every sentence.
[[ ${1:-} == --tests ]] && DEBS+=(chromium festival festvox-hi-nsk festvox-mr-nsk festvox-te-nsk
                                  festival-hi festival-mr festival-te)
missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
if [[ ! -x .venv/bin/python ]]; then
  "$PYTHON" -m venv .venv
fi
# --no-deps: the lock is a complete, already-resolved set (re-resolving it takes ~9 minutes, and a
# resolver may swap the local CPU torch wheel for a multi-GB CUDA build).
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps -r requirements.lock
.venv/bin/python -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
.venv/bin/python -m pip check
# numba's machine code for librosa and the pitch tracker, matplotlib's font list: compiled once
# here rather than in the first dub (~40 s of it on a fresh 2-core machine).
.venv/bin/python -m lipsync_sts.warmup
