#!/bin/sh
# quickstart.sh: the README Quick start's first command installs only what
# building and running need: never a mail server (installing one makes apt
# remove the MTA the machine already runs), never a test-only tool.
#
# The install step of that command (the text of the first command in the
# "## Quick start" section, up to its first "&&") runs in a directory whose
# PATH puts recorders first: apt-get, apt and aptitude write down what they
# were asked to install and install nothing; dpkg-query and dpkg say that
# nothing is installed; sudo and debconf-set-selections only pass through.
# The recorded package names are then checked against the lists below.
. "$(dirname "$0")/lib.sh"
tap_init

readme=$top_srcdir/README.md
[ -f "$readme" ] || tap_skip_all "no README.md at $top_srcdir"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/quickstart.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# Mail servers (Debian packages that provide mail-transport-agent or are one).
MTA="postfix exim4 exim4-base exim4-daemon-light exim4-daemon-heavy
sendmail sendmail-bin opensmtpd courier-mta nullmailer msmtp-mta dma
ssmtp masqmail citadel-mta esmtp-run lsb-invalid-mta"
# Tools only the tests use.
TESTONLY="swaks tcpdump tshark wireshark wireshark-common tcpreplay
python3-aiosmtpd tmux curl clang-format clang-tidy cppcheck"

tap_plan 4

# The first fenced command after "## Quick start".
first=$(awk '
	/^## / { inqs = ($0 ~ /^## Quick start/) }
	inqs && /^```/ { if (infence) exit; infence = 1; next }
	inqs && infence && NF { print; exit }
' "$readme")
step=${first%%&&*}
if [ -n "$step" ]; then
	tap_pass "README Quick start has a first command"
else
	tap_fail "README Quick start has a first command"
fi
tap_diag "install step: $step"

bin=$tmp/bin
mkdir -p "$bin"
for t in apt-get apt aptitude; do
	cat > "$bin/$t" <<EOF
#!/bin/sh
echo "$t \$*" >> "$tmp/calls"
exit 0
EOF
done
cat > "$bin/dpkg-query" <<'EOF'
#!/bin/sh
echo "dpkg-query: no packages found matching $*" >&2
exit 1
EOF
cat > "$bin/dpkg" <<'EOF'
#!/bin/sh
case "$1" in
-s|--status|-l|--list) echo "dpkg: package '$2' is not installed" >&2; exit 1;;
esac
exit 0
EOF
cat > "$bin/sudo" <<'EOF'
#!/bin/sh
while [ $# -gt 0 ]; do
	case "$1" in
	--) shift; break;;
	-u|-g) shift 2;;
	-*) shift;;
	*) break;;
	esac
done
exec "$@"
EOF
cat > "$bin/debconf-set-selections" <<'EOF'
#!/bin/sh
cat > /dev/null
EOF
chmod +x "$bin"/*

: > "$tmp/calls"
(cd "$top_srcdir" && PATH="$bin:$PATH" sh -c "$step") \
    > "$tmp/out" 2>&1 < /dev/null
rc=$?
pkgs=$(awk '{
	inst = 0
	for (i = 2; i <= NF; i++) {
		if ($i == "install") { inst = 1; continue }
		if (inst && $i !~ /^-/) print $i
	}
}' "$tmp/calls" | sort -u | tr '\n' ' ')

# With nothing installed, the step must have asked for something, through
# the recorders: otherwise it did not use apt-get from PATH (or failed).
if [ $rc -eq 0 ] && [ -n "$pkgs" ]; then
	tap_pass "the install step asks apt to install packages"
else
	tap_fail "the install step asks apt to install packages" \
	    "exit $rc; calls: $(cat "$tmp/calls"); output: $(tail -5 "$tmp/out")"
fi
tap_diag "installs: $pkgs"

bad=
for p in $pkgs; do
	for m in $MTA; do
		[ "$p" = "$m" ] && bad="$bad $p"
	done
done
if [ -z "$bad" ]; then
	tap_pass "the first command installs no mail server"
else
	tap_fail "the first command installs no mail server" "installs:$bad"
fi

bad=
for p in $pkgs; do
	for m in $TESTONLY; do
		[ "$p" = "$m" ] && bad="$bad $p"
	done
done
if [ -z "$bad" ]; then
	tap_pass "the first command installs no test-only tool"
else
	tap_fail "the first command installs no test-only tool" "installs:$bad"
fi
exit 0
