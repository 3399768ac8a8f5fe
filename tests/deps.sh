#!/bin/sh
# deps.sh: what tools/deps.sh would install, with apt-get, dpkg-query, sudo
# and debconf-set-selections replaced by recorders (nothing is installed).
#
# The Quick start's first command (tools/deps.sh) must install no mail
# server and no test tool; --test adds the test tools, and Postfix only on a
# host that runs no other MTA; a plan in which apt would remove a package is
# refused.
. "$(dirname "$0")/lib.sh"
tap_init

tmp=$(mktemp -d "${TMPDIR:-/tmp}/deps.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/bin"

# dpkg-query: the packages listed in $FAKE_DPKG ("name|provides" lines) are
# installed, nothing else.
cat > "$tmp/bin/dpkg-query" <<'EOF'
#!/bin/sh
case "$*" in
*db:Status-Abbrev*)
	while IFS='|' read -r name prov; do
		printf 'ii |%s|%s\n' "$name" "$prov"
	done < "$FAKE_DPKG"
	;;
*)
	for a in "$@"; do pkg=$a; done
	grep -q "^$pkg|" "$FAKE_DPKG" && printf 'install ok installed' && exit 0
	exit 1
	;;
esac
EOF
# apt-get: record the arguments; a simulation prints $FAKE_REMV as Remv.
cat > "$tmp/bin/apt-get" <<'EOF'
#!/bin/sh
echo "$*" >> "$FAKE_REC"
case " $* " in
*" -s "*) [ -z "$FAKE_REMV" ] || echo "Remv $FAKE_REMV [1.0]" ;;
esac
exit 0
EOF
printf '#!/bin/sh\nexec "$@"\n' > "$tmp/bin/sudo"
printf '#!/bin/sh\ncat > /dev/null\n' > "$tmp/bin/debconf-set-selections"
chmod +x "$tmp/bin/"*

# run NAME DPKG-LINES REMV ARGS...: run tools/deps.sh; the recorded
# "install" line (not the simulation) goes to $tmp/NAME.inst.
run() {
	name=$1 dpkg=$2 remv=$3
	shift 3
	printf '%s' "$dpkg" > "$tmp/$name.dpkg"
	: > "$tmp/$name.rec"
	PATH="$tmp/bin:$PATH" FAKE_DPKG="$tmp/$name.dpkg" \
	    FAKE_REC="$tmp/$name.rec" FAKE_REMV="$remv" \
	    sh "$top_srcdir/tools/deps.sh" "$@" > "$tmp/$name.out" 2>&1
	rc=$?
	grep '^install ' "$tmp/$name.rec" | grep -v ' -s ' > "$tmp/$name.inst"
	return $rc
}

# has NAME PKG: the recorded install names PKG.
has() {
	tr ' ' '\n' < "$tmp/$1.inst" | grep -qx "$2"
}

MTAS="postfix exim4 exim4-daemon-light exim4-daemon-heavy sendmail
sendmail-bin opensmtpd courier-mta"
TESTTOOLS="libcmocka-dev swaks libnet-ssleay-perl tcpdump tshark wireshark-common tcpreplay
python3-aiosmtpd tmux clang-format clang-tidy cppcheck clang libclang-rt-dev"

tap_plan 11

run build "" ""
tap_ok $? "tools/deps.sh succeeds on a bare host"
has build libpcap-dev && has build libncurses-dev && has build libssl-dev
tap_ok $? "it installs the build dependencies"
bad=
for p in $MTAS $TESTTOOLS; do has build "$p" && bad="$bad $p"; done
[ -z "$bad" ]
tap_ok $? "the first command installs no mail server and no test tool${bad:+ (got:$bad)}"

run test "" "" --test
has test tshark && has test swaks && has test libcmocka-dev && has test libpcap-dev
tap_ok $? "--test adds the test tools to the build dependencies"
has test postfix
tap_ok $? "--test installs Postfix on a host with no mail server"

exim="exim4-daemon-heavy|mail-transport-agent, exim4-localscanapi-6.0
exim4-base|
"
run exim "$exim" "" --test
has exim postfix
[ $? -ne 0 ] && grep -q 'not installing Postfix.*exim4-daemon-heavy' "$tmp/exim.out"
tap_ok $? "--test leaves Postfix out, and says why, on a host running Exim"
run exim2 "$exim" "" --other-mta
[ "$(cat "$tmp/exim2.out")" = exim4-daemon-heavy ]
tap_ok $? "--other-mta names the installed MTA"

run pf "postfix|mail-transport-agent
" "" --other-mta
[ ! -s "$tmp/pf.out" ]
tap_ok $? "--other-mta is silent when Postfix is the MTA"

run remv "" "sendmail-bin" --test
rc=$?
[ $rc -ne 0 ] && [ ! -s "$tmp/remv.inst" ] && grep -q 'would remove sendmail-bin' "$tmp/remv.out"
tap_ok $? "a plan that removes a package installs nothing (status $rc)"

run full "libpcap-dev|
libncurses-dev|
libssl-dev|
libbsd-dev|
libpcre2-dev|
libmimalloc-dev|
build-essential|
autoconf|
automake|
pkg-config|
" ""
[ ! -s "$tmp/full.rec" ]
tap_ok $? "nothing is run when nothing is missing"

# What is tested above is what the README's Quick start runs.
qs=$(sed -n '/^## Quick start/,/^## /p' "$top_srcdir/README.md" | grep -v '^```' |
    grep -E '^(tools|sudo|make)' | head -2)
first=$(printf '%s\n' "$qs" | sed -n 1p)
second=$(printf '%s\n' "$qs" | sed -n 2p)
case "$first" in "tools/deps.sh && "*) true ;; *) false ;; esac &&
case "$second" in "tools/deps.sh --test && "*) true ;; *) false ;; esac
tap_ok $? "the Quick start's commands start with tools/deps.sh, then tools/deps.sh --test (got: $first / $second)"

if [ $TAP_FAILED -ne 0 ]; then
	for f in "$tmp"/*.out "$tmp"/*.rec; do
		sed "s|^|# $(basename "$f"): |" "$f"
	done
	exit 1
fi
exit 0
