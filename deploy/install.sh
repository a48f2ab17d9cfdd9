#!/bin/sh
# Offline install from the bundle this script ships in (built by `make bundle`): no package
# registry is contacted. Needs the same Python minor version and CPU type the bundle was built
# on (its name says which), e.g. Debian 12's python3.11 on x86_64; python3-venv is not needed.
#
#   sudo ./install.sh [--prefix DIR] [--no-system]
#
# Creates DIR/venv (default /opt/hospital-face-kiosk) with the kiosk and every dependency from
# wheels/, installs the face models from models/ into DIR/models, and - unless --no-system -
# the systemd units, the users (sysusers.d) and /etc/hospital-kiosk/. Enables nothing.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=/opt/hospital-face-kiosk
system=1
while [ $# -gt 0 ]; do
    case $1 in
        --prefix) prefix=$2; shift 2 ;;
        --no-system) system=0; shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
python=${PYTHON:-python3}
venv=$prefix/venv

# pip comes from the wheelhouse too, so a Python without ensurepip (Debian's) will do.
"$python" -m venv --without-pip "$venv"
pip_wheel=$(ls "$here"/wheels/pip-*.whl)
"$venv/bin/python" "$pip_wheel/pip" install --quiet --no-index --find-links "$here/wheels" pip
"$venv/bin/python" -m pip install --quiet --no-index --find-links "$here/wheels" \
    hospital-face-kiosk

KIOSK_MODELS_DIR=$prefix/models "$venv/bin/kiosk" models install --wheel "$here"/models/*.whl
mkdir -p "$prefix/deploy"
cp -R "$here/deploy/." "$prefix/deploy/"

if [ "$system" = 0 ]; then
    echo "installed into $prefix (no systemd units: --no-system)"
    exit 0
fi
# The units name /opt/hospital-face-kiosk; another prefix is written into the copies.
for unit in "$here"/deploy/systemd/*.service; do
    sed "s#/opt/hospital-face-kiosk#$prefix#g" "$unit" > "/etc/systemd/system/$(basename "$unit")"
done
install -D -m 0644 "$here/deploy/sysusers.d/hospital-kiosk.conf" \
    /usr/lib/sysusers.d/hospital-kiosk.conf
systemd-sysusers /usr/lib/sysusers.d/hospital-kiosk.conf
install -d -m 0755 /etc/hospital-kiosk
[ -e /etc/hospital-kiosk/platform.env ] \
    || install -m 0644 "$here/deploy/platform.env" /etc/hospital-kiosk/platform.env
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
fi
echo "installed into $prefix; next: put the config in /etc/hospital-kiosk/ and enable one of"
echo "  systemctl enable --now hospital-kiosk.service     (a kiosk)"
echo "  systemctl enable --now hospital-counter.service   (a counter device)"
echo "  systemctl enable --now hospital-platform.service  (the hospital's server)"
