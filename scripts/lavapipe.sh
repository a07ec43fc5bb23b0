#!/usr/bin/env bash
# Mesa's software Vulkan driver (lavapipe) from Debian's bookworm-backports, for the `wgpu` tests
# on a machine without a GPU. Stock bookworm Mesa (22.3.6) ends every shader loop after 65,535
# iterations, so Burn's reductions over more rows come out wrong (`sum_dim` over 2^19 ones gave
# 65,532); Mesa 25 from backports is correct, and `sweep devices --check` tells the two apart.
# Idempotent: a machine that already has Mesa >= 25's lavapipe is left alone.
set -euo pipefail

have_good_mesa() {
  local v
  v=$(dpkg-query -W -f '${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25 && command -v vulkaninfo >/dev/null 2>&1
}

if have_good_mesa; then
  echo "[lavapipe] mesa-vulkan-drivers $(dpkg-query -W -f '${Version}' mesa-vulkan-drivers) already installed"
  exit 0
fi

. /etc/os-release
if [ "${VERSION_CODENAME:-}" = bookworm ]; then
  list=/etc/apt/sources.list.d/bookworm-backports.sources
  if [ ! -f "$list" ]; then
    printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' >"$list"
  fi
  suite=(-t bookworm-backports)
else
  suite=()
fi
apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=120 \
  "${suite[@]}" mesa-vulkan-drivers libvulkan1 vulkan-tools >/dev/null
have_good_mesa || { echo "[lavapipe] mesa-vulkan-drivers $(dpkg-query -W -f '${Version}' mesa-vulkan-drivers 2>/dev/null) is older than 25" >&2; exit 1; }
echo "[lavapipe] installed mesa-vulkan-drivers $(dpkg-query -W -f '${Version}' mesa-vulkan-drivers)"
vulkaninfo --summary 2>/dev/null | grep -E 'deviceName|driverInfo' || true
