#!/usr/bin/env bash
# System packages the test suite needs: Debian's openssh-server (the real sshd the SSH tests start on
# 127.0.0.1), qemu-system-arm (qemu-system-aarch64, for the qemu-a72-icount device) and
# dataset-fashion-mnist (the data of the vision recipe and its test), chromium and chromium-driver (the
# web kit test and `bench --device browser`) and nodejs/npm (the JavaScript kits). Idempotent:
# apt-get runs only when something is missing. Run as root (CI and dev boxes); as another user it says
# what is missing and leaves the SSH and icount tests to skip.
# User-mode QEMU needs nothing here: edgeship unpacks Debian's qemu-user-static .deb into its own cache.
set -euo pipefail

missing=()
[ -x /usr/sbin/sshd ] || missing+=(openssh-server)
command -v dpkg-deb >/dev/null || missing+=(dpkg)
command -v qemu-system-aarch64 >/dev/null || missing+=(qemu-system-arm)
[ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
command -v chromium >/dev/null || missing+=(chromium)
command -v chromedriver >/dev/null || missing+=(chromium-driver)
command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup-system: missing ${missing[*]}; install them as root (apt-get install ${missing[*]})" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
