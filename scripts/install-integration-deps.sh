#!/usr/bin/env bash
# Installs what the integration and e2e tests run for real, from Debian:
# PostgreSQL (initdb, postgres, pg_ctl; Debian puts them under
# /usr/lib/postgresql/*/bin) and Redis (redis-server, redis-cli). Idempotent.
# Executable-mode PostgreSQL under a root daemon also needs setpriv
# (util-linux) and useradd (passwd); the tests also use curl. All are
# installed when missing.
set -euo pipefail

pkgs=(postgresql postgresql-client redis-server redis-tools curl util-linux passwd)
missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if ((${#missing[@]} > 0)); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-integration-deps: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "install-integration-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Debian's packages start system services on install; these machines
	# have no init to start them, and the tests start their own servers.
	printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	rm -f /usr/sbin/policy-rc.d
fi
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
echo "postgres: $("$pgbin/postgres" --version 2>/dev/null | awk '{print $3}') ($pgbin)"
echo "redis:    $(redis-server --version 2>/dev/null | awk '{print $3}')"
for tool in setpriv useradd; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "install-integration-deps: $tool is missing (Debian: util-linux / passwd); a root daemon needs it to run PostgreSQL unprivileged" >&2
		exit 1
	fi
done
