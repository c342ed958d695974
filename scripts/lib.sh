# Shared by scripts/run, scripts/test and scripts/bench: install what is missing,
# then configure and build in a separate build directory.
# shellcheck shell=bash

RQ_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RQ_PACKAGES="build-essential autoconf automake libtool pkg-config libsqlite3-dev
	libevent-dev libmicrohttpd-dev libmsgpack-dev libsodium-dev libjansson-dev
	zlib1g-dev libcurl4-openssl-dev libedit-dev libcrypt-dev libgnutls28-dev openssl python3 curl valgrind systemd"

rq_ensure_packages() {
	local missing=() p
	for p in $RQ_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "installing: ${missing[*]}" >&2
	if [ "$(id -u)" -ne 0 ]; then
		echo "need root to install packages (or install them yourself): ${missing[*]}" >&2
		return 1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# rq_build DIR [configure flags…]: configure (once per flag set) and make in DIR.
rq_build() {
	local dir=$1; shift
	local flags="$*"
	(cd "$RQ_TOP" && scripts/gen-makefile-sources)
	if [ ! -x "$RQ_TOP/configure" ] || [ "$RQ_TOP/configure.ac" -nt "$RQ_TOP/configure" ]; then
		(cd "$RQ_TOP" && autoreconf -fi >/dev/null 2>&1 || autoreconf -fi)
	fi
	mkdir -p "$dir"
	if [ ! -f "$dir/Makefile" ] || [ "$(cat "$dir/.flags" 2>/dev/null)" != "$flags" ] ||
	   [ "$RQ_TOP/configure" -nt "$dir/Makefile" ]; then
		(cd "$dir" && "$RQ_TOP/configure" $flags >/dev/null) || return 1
		echo "$flags" > "$dir/.flags"
	fi
	make -C "$dir" -j"$(nproc)" -s all
}
