#!/usr/bin/env bash
# Installs the Debian packages that `npm ci` and the tests need, when any is missing.
# Quick and silent-ish when everything is present; safe to run any number of times.
# Part of the README's test command: scripts/system-deps.sh && npm ci && npm test
set -euo pipefail

# One package per line; the comment says who needs it.
packages=(
  asciinema       # test/cli.test.ts: the reference player (asciinema 2.x) reads `custody export --asciicast-v2`
  bsdutils        # test/cli.test.ts: script(1) gives `custody record` and `asciinema cat` a terminal
  chromium        # test/browser-verifier.test.ts: the verifier's browser build runs in real Chromium (playwright-core)
  e2fsprogs       # test/fail-closed.test.ts: mkfs.ext4 for a file system that turns read-only mid-session
  mount           # test/fail-closed.test.ts: mount/losetup for the full and read-only spool file systems
  openssh-server  # the JIT and redaction end-to-end tests (sshd on loopback) of the coming issues
  openssh-client  # ssh and ssh-keygen for the same
  postgresql      # server/: the storage suite runs against a real PostgreSQL (test/support/postgres.ts starts its own cluster)
  sudo            # a real password prompt (echo off) whose input must never be recorded (redaction tests)
  python3         # npm ci: node-pty ships no Linux prebuild; node-gyp (Python) compiles it
  make            # npm ci: node-gyp's build of node-pty
  g++             # npm ci: node-gyp's build of node-pty (C++)
)

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: this script installs with apt on Debian/Ubuntu; on this system install by hand: ${packages[*]}" >&2
  exit 1
fi

missing=()
for package in "${packages[@]}"; do
  installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "system-deps: all present (${packages[*]})"
  exit 0
fi

# apt needs root. Without a terminal, sudo must not wait for a password nobody can type (-n).
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  if [ -t 0 ]; then as_root=(sudo); else as_root=(sudo -n); fi
else
  echo "system-deps: missing ${missing[*]}; installing them needs root, and sudo is not available." >&2
  echo "system-deps: as root, run: apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

echo "system-deps: installing ${missing[*]}"
# `env` passes the variable through sudo, which resets the environment by default.
apt_get() { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "$@" </dev/null; }
if ! apt_get update || ! apt_get install -y --no-install-recommends "${missing[@]}"; then
  echo "system-deps: could not install ${missing[*]} (see the messages above; apt-get needs root or passwordless sudo)." >&2
  exit 1
fi

# Check again: apt can "succeed" without installing a package it does not know under that name.
still_missing=()
for package in "${missing[@]}"; do
  installed "$package" || still_missing+=("$package")
done
if [ "${#still_missing[@]}" -ne 0 ]; then
  echo "system-deps: still missing after apt-get install: ${still_missing[*]}" >&2
  exit 1
fi
echo "system-deps: installed ${missing[*]}"
