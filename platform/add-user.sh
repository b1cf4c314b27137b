#!/usr/bin/env bash
# Adds a platform user: a Unix account in the platform's users group, with a private
# (0700) home, and a password for the hub's PAM login. Run as root.
#   platform/add-user.sh alice            # asks for the password
#   platform/add-user.sh carol --admin    # also a hub admin and catalog writer
# Any option of `lodestar platform add-user` may follow the name.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 NAME [--admin] [--users-group G] [--admin-group G]" >&2; exit 2; }
LODESTAR=".venv/bin/lodestar"
[ -x "$LODESTAR" ] || LODESTAR="lodestar"
read -r -s -p "Password for $1: " pw1; echo
read -r -s -p "Again: " pw2; echo
[ "$pw1" = "$pw2" ] || { echo "the passwords differ" >&2; exit 1; }
printf '%s\n' "$pw1" | "$LODESTAR" platform add-user "$@" --password-stdin
