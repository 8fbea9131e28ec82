#!/usr/bin/env bash
# Installs what the containerd driver and its tests need, from Debian:
# containerd, runc and the standard CNI plugins (/usr/lib/cni). Idempotent:
# packages already installed are left alone. Prints the versions found.
# It does not start or configure a system containerd: tests start a private one.
set -euo pipefail

pkgs=(containerd runc containernetworking-plugins iptables iproute2)
missing=()
for p in "${pkgs[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-container-deps: missing ${missing[*]}; run as root: apt-get install -y ${missing[*]}" >&2
		exit 1
	fi
	echo "install-container-deps: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "containerd: $(containerd --version 2>/dev/null | awk '{print $3}')"
echo "runc:       $(runc --version 2>/dev/null | head -1 | awk '{print $3}')"
echo "cni:        $(dpkg-query -W -f='${Version}' containernetworking-plugins) ($(ls /usr/lib/cni | tr '\n' ' '))"
