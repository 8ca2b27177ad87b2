#!/usr/bin/env bash
# What `make bench` needs beyond `make setup`: OTB's command-line applications (Debian's otb-bin)
# for the ImageClassifier row of benchmarks/bench_engine.py. Not needed by the tests. A machine
# without the package in its sources still runs the benchmark (the row says "not installed").
set -euo pipefail

# (the outputs are read whole first: grep -q closing a pipe early fails the pipe under pipefail)
status=$(dpkg-query -W -f='${Status}' otb-bin 2>/dev/null || true)
if [[ "$status" == *"install ok installed"* ]]; then
  exit 0
fi
policy=$(apt-cache policy otb-bin 2>/dev/null || true)
if ! [[ "$policy" =~ Candidate:\ [0-9] ]]; then
  echo "setup_bench: otb-bin is not in the package sources; the OTB row will say 'not installed'"
  exit 0
fi
echo "setup_bench: installing otb-bin (OTB's command-line applications, for the OTB row)"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends otb-bin \
  || echo "setup_bench: otb-bin could not be installed; the OTB row will say 'not installed'"
