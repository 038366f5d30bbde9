#!/usr/bin/env bash
# Debian packages the product and its tests use: fonts for chat PDFs (DejaVu, Droid fallback for
# CJK), pdftotext, and Chromium for the browser journey (tests/webapp: Playwright drives this
# browser, never one it downloads). Installed only when missing, and only where we may (root with
# apt-get).
set -uo pipefail
need=()
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ -e /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || need+=(fonts-droid-fallback)
command -v pdftotext >/dev/null || need+=(poppler-utils)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
      || echo "could not install ${need[*]}" >&2
  else
    echo "missing system packages: ${need[*]} (apt-get install them)" >&2
  fi
fi
