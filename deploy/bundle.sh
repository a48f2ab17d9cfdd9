#!/bin/sh
# `make bundle`: the offline installer for a terminal with no registry access, as one tar file
#   OUT/hospital-face-kiosk-VERSION-pyXY-ARCH.tar   (OUT: the first argument, default build/)
# holding wheels/ (this project's wheel, from git HEAD, and every dependency's, for this
# Python and CPU), models/ (the face-model wheel), deploy/ (systemd units, sysusers.d,
# examples) and install.sh.
#
# Dependencies are pinned to the versions installed in the dev venv (PY, default .venv's), so
# a terminal runs what the tests ran. pip fetches them the way this machine's pip is set up
# (its cache, find-links, mirror); the model wheel is the copy `kiosk models install` keeps.
# Plain tar, not gzip: wheels are zip files already, compressing again saves nothing.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
py=${PY:-$root/.venv/bin/python}
out=${1:-$root/build}
mkdir -p "$out"
out=$(cd "$out" && pwd)

name=$("$py" -c 'import importlib.metadata as m, platform, sys
version = m.version("hospital-face-kiosk")
print(f"hospital-face-kiosk-{version}-py{sys.version_info[0]}{sys.version_info[1]}"
      f"-{platform.machine()}")')
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
bundle=$stage/$name
mkdir -p "$bundle/wheels" "$bundle/models" "$bundle/deploy"

"$py" -m pip freeze --exclude-editable > "$stage/constraints.txt"
# The project's own wheel, built from the committed tree (HEAD: what was reviewed, nothing
# half-edited; no build/ or egg-info left in the checkout), and every runtime dependency's;
# pip itself too, for install.sh's venv without ensurepip.
mkdir "$stage/src"
git -C "$root" archive --format=tar HEAD | tar -xf - -C "$stage/src"
"$py" -m pip wheel --quiet --wheel-dir "$bundle/wheels" --constraint "$stage/constraints.txt" \
    "$stage/src"
"$py" -m pip download --quiet --no-deps --only-binary=:all: --dest "$bundle/wheels" \
    "pip==$("$py" -m pip --version | cut -d' ' -f2)"

store=$("$py" -c 'from models import default_store; print(default_store())')
model=$(ls "$store"/downloads/*.whl 2>/dev/null | tail -n 1) || true
if [ -z "$model" ]; then
    echo "bundle.sh: no model wheel in $store/downloads: run \`make models\` first" >&2
    exit 3
fi
cp "$model" "$bundle/models/"

cp -R "$root/deploy/systemd" "$root/deploy/sysusers.d" "$root/deploy/xorg" \
    "$root/deploy/platform.env" "$root/deploy/README.md" "$bundle/deploy/"
cp "$root/deploy/install.sh" "$bundle/install.sh"
chmod 0755 "$bundle/install.sh"

tar -cf "$out/$name.tar" -C "$stage" "$name"
echo "$out/$name.tar"
