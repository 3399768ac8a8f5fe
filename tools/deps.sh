#!/bin/sh
# deps.sh: install what smtpscope needs on Debian or Ubuntu, only what is
# missing.  Uses sudo when not run as root.
#
#   tools/deps.sh            what building and running need: a compiler,
#                            autotools and the libpcap, ncursesw, OpenSSL,
#                            libbsd, PCRE2 and mimalloc headers.  Never a mail server, never a
#                            test tool.
#   tools/deps.sh --test     the above and what the test suite needs: cmocka,
#                            real clients and servers (swaks, aiosmtpd,
#                            Postfix), tcpdump, tshark, tcpreplay, tmux,
#                            the linters, clang with libFuzzer (make fuzz),
#                            jq and promtool (package prometheus: --metrics),
#                            logrotate (checks contrib/smtpscope.logrotate).
#   tools/deps.sh --other-mta
#                            print the installed mail server packages other
#                            than Postfix (nothing when there are none) and
#                            install nothing.
#
# Mail servers are never removed, replaced or reconfigured.  Postfix is a
# test dependency only, and is installed only when no other mail server
# package is: on a host running Exim, Sendmail, OpenSMTPD or any other MTA
# it is left out (apt would remove that MTA to install it), and the tests
# that need it skip.  Before installing anything, apt-get is asked what it
# would do; if that would remove a package, nothing is installed.
set -e

BUILD="build-essential autoconf automake pkg-config libpcap-dev
libncurses-dev libssl-dev libbsd-dev libpcre2-dev libmimalloc-dev"
# Test framework, real servers, clients and tools used by the tests.
TEST="libcmocka-dev swaks libnet-ssleay-perl tcpdump tshark wireshark-common tcpreplay python3
python3-aiosmtpd iproute2 tmux openssl curl time procps
clang-format clang-tidy cppcheck clang libclang-rt-dev jq prometheus logrotate"

# Installed packages that provide a mail transport agent, Postfix excepted.
other_mta() {
	dpkg-query -W -f='${db:Status-Abbrev}|${Package}|${Provides}\n' 2>/dev/null |
		awk -F'|' '$1 ~ /^[ih]i/ && $3 ~ /(^|[ ,])mail-transport-agent($|[ ,])/ &&
		    $2 != "postfix" { print $2 }'
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"
}

case "${1:-}" in
"") pkgs=$BUILD ;;
--test) pkgs="$BUILD $TEST" ;;
--other-mta)
	other_mta
	exit 0
	;;
*)
	echo "usage: tools/deps.sh [--test | --other-mta]" >&2
	exit 2
	;;
esac

if [ "${1:-}" = --test ] && ! installed postfix; then
	mta=$(other_mta | tr '\n' ' ')
	if [ -n "$mta" ]; then
		echo "deps.sh: not installing Postfix: this host runs ${mta% }; the live Postfix tests will skip" >&2
	else
		pkgs="$pkgs postfix"
	fi
fi

missing=
for p in $pkgs; do
	installed "$p" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
echo "deps.sh: installing:$missing" >&2
case "$missing" in
*postfix*)
	# Postfix asks how to configure the system instance: it gets none, so
	# it does not start; the tests run a private instance of their own.
	echo "postfix postfix/main_mailer_type select No configuration" |
		$SUDO debconf-set-selections
	;;
esac
case "$missing" in
*wireshark-common*)
	echo "wireshark-common wireshark-common/install-setuid boolean false" |
		$SUDO debconf-set-selections
	;;
esac
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
# Refuse a plan that removes anything (a mail server above all).
# shellcheck disable=SC2086
plan=$($SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -s -y -q \
	--no-install-recommends $missing)
removed=$(printf '%s\n' "$plan" | awk '/^Remv /{ print $2 }' | tr '\n' ' ')
if [ -n "$removed" ]; then
	echo "deps.sh: apt-get would remove ${removed% }; nothing installed" >&2
	exit 1
fi
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	--no-install-recommends $missing
