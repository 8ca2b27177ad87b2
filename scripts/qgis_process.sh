#!/usr/bin/env bash
# Run Debian's qgis_process.bin headless with the assembled plugin (build/plugins) enabled.
# /usr/bin/qgis_process passes --noversioncheck, which 3.22's binary refuses; call the .bin.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$root/build/xdg-runtime}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export QGIS_PLUGINPATH="${QGIS_PLUGINPATH:-$root/build/plugins}"
# An own settings folder: nothing is written into the user's QGIS profile.
export QGIS_CUSTOM_CONFIG_PATH="${QGIS_CUSTOM_CONFIG_PATH:-$root/build/qgis-config}"
mkdir -p "$QGIS_CUSTOM_CONFIG_PATH"
marker="$QGIS_CUSTOM_CONFIG_PATH/.landcover_cnn_plugin_enabled"
# The marker only once the plugin is enabled (a call before `make package` must not stop later
# calls from enabling it); enabling an enabled plugin exits 1, hence the check of the list.
if [ ! -e "$marker" ]; then
  if qgis_process.bin plugins enable landcover_cnn_plugin >/dev/null 2>&1 \
      || qgis_process.bin plugins 2>/dev/null | grep -q '^\* landcover_cnn_plugin$'; then
    touch "$marker"
  fi
fi
exec qgis_process.bin "$@"
