#!/bin/sh
# deps.sh: install what smtpscope needs to build and to run its test suite on
# Debian or Ubuntu, only what is missing.  Uses sudo when not run as root.
#   tools/deps.sh          build and test dependencies
#   tools/deps.sh --build  only what building needs
set -e
BUILD="build-essential autoconf automake pkg-config libpcap-dev
libncurses-dev libssl-dev libbsd-dev libcmocka-dev"
# Real servers, clients and tools used by the tests.
TEST="postfix swaks tcpdump tshark wireshark-common tcpreplay python3
python3-aiosmtpd iproute2 tmux openssl curl time procps
clang-format clang-tidy cppcheck"

pkgs=$BUILD
[ "${1:-}" = "--build" ] || pkgs="$BUILD $TEST"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "deps.sh: installing:$missing" >&2
# Postfix asks how to configure the system instance; the tests never use it.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
echo "wireshark-common wireshark-common/install-setuid boolean false" | $SUDO debconf-set-selections
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
