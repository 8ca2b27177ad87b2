#!/usr/bin/env bash
# Install what is missing, and nothing else: Debian packages, the .venv, pinned Python packages.
# A second run only checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(qgis python3-qgis qgis-providers gdal-bin python3-gdal python3-venv xvfb)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv from /usr/bin/python3 (with system site-packages for qgis and osgeo)"
  /usr/bin/python3 -m venv --system-site-packages .venv
fi

stamp=.venv/.requirements.sha256
wanted=$(cat requirements.txt requirements-worker.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "setup: installing pinned Python requirements into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements.txt
  echo "$wanted" > "$stamp"
fi

# The wheel folder the installer tests use ('Install TensorFlow environment' with WHEELS, no index):
# the worker's requirements and their dependencies as wheels for this machine (pip takes them from
# its cache once the .venv above is installed). Filled again when requirements-worker.txt changes.
wheelhouse=build/wheelhouse
wheel_stamp=$wheelhouse/.requirements-worker.sha256
wanted_wheels=$(sha256sum requirements-worker.txt | cut -d' ' -f1)
if [ "$(cat "$wheel_stamp" 2>/dev/null)" != "$wanted_wheels" ]; then
  echo "setup: downloading the worker's wheels into $wheelhouse"
  rm -rf "$wheelhouse.part" && mkdir -p build
  .venv/bin/python -m pip download -q --disable-pip-version-check --only-binary=:all: \
    -r requirements-worker.txt -d "$wheelhouse.part"
  echo "$wanted_wheels" > "$wheelhouse.part/.requirements-worker.sha256"
  rm -rf "$wheelhouse" && mv "$wheelhouse.part" "$wheelhouse"
fi
echo "setup: ok ($(.venv/bin/python --version), QGIS $(dpkg-query -W -f='${Version}' qgis))"
