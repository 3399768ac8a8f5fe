#!/bin/sh
# tls.sh: end-to-end TLS on the captures of tests/fixtures/tls (real
# Postfix, openssl s_client, curl and Python smtplib; remade by
# tests/scripts/make-tls-captures.sh).  For each capture with its key log:
# the SMTP dialogue inside TLS is shown with encrypted:true (including the
# 452), the tls events carry version, cipher and certificate facts, and the
# commands and reply codes are the ones tshark decrypts from the same
# capture.  Then: no key log, a key log without the session, altered
# secrets, junk lines, SSLKEYLOGFILE, keys written while smtpscope runs,
# certificates judged at capture time (expired / not yet valid), and the
# public captures with key logs when ../shared is present.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
tap_init

fx=$top_srcdir/tests/fixtures/tls
pub=$top_srcdir/../shared/captures/public
py=/usr/bin/python3
[ -x "$py" ] || tap_skip_all "needs /usr/bin/python3"
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"
have_tshark=false
command -v tshark >/dev/null 2>&1 && have_tshark=true

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
unset SSLKEYLOGFILE

# The checks, on JSON Lines in a file.
cat > "$tmp/check.py" <<'EOF'
import json, sys

def load(path):
    out = []
    for line in open(path, encoding="utf-8", errors="replace"):
        line = line.strip()
        if line:
            out.append(json.loads(line))
    return out

def tls(evs, phase=None):
    return [e for e in evs if e["event"] == "tls" and
            (phase is None or e["phase"] == phase)]

def fail(msg):
    print(msg)
    sys.exit(1)

mode, path = sys.argv[1], sys.argv[2]
evs = load(path)
cmds = [e for e in evs if e["event"] == "command"]
replies = [e for e in evs if e["event"] == "reply"]
anoms = [e for e in evs if e["event"] == "anomaly"]

if mode == "decrypted":
    version, cipher, want452, implicit = sys.argv[3:7]
    enc = [c["verb"] for c in cmds if c["encrypted"]]
    for verb in ("EHLO", "MAIL", "RCPT", "QUIT"):
        if verb not in enc:
            fail("no encrypted %s command (encrypted: %s)" % (verb, enc))
    if [c for c in cmds if not c["encrypted"] and c["verb"] == "MAIL"]:
        fail("MAIL seen in clear")
    codes = [r["code"] for r in replies if r["encrypted"]]
    if (452 in codes) != (want452 == "yes"):
        fail("452 inside TLS: %s" % codes)
    for r in replies:
        if r["code"] == 452 and not (r["highlight"] and r.get("diagnosis")):
            fail("452 not highlighted/diagnosed")
    est = tls(evs, "established")
    if len(est) != 1 or not est[0]["decrypted"]:
        fail("established events: %s" % est)
    e = est[0]
    if e["version"] != version or e["cipher"] != cipher:
        fail("version/cipher %s %s" % (e["version"], e["cipher"]))
    if not e["cert_subject"] or "CN=" not in e["cert_subject"] or \
       not e["cert_not_after"] or "self-signed" not in (e["cert_problems"] or ""):
        fail("certificate facts: %s" % e)
    if [t for t in tls(evs) if t["decrypted"] is False and t["reason"]]:
        fail("a decrypted:false verdict next to decryption")
    if anoms:
        fail("anomalies: %s" % anoms)
    opened = [x for x in evs if x["event"] == "session_open"]
    if opened[0]["tls"] != ("implicit" if implicit == "yes" else "none"):
        fail("session_open tls: %s" % opened[0]["tls"])
elif mode == "cert":
    # cert SUBJECT-SUBSTRING PROBLEMS
    est = [t for t in tls(evs) if t["cert_subject"]]
    if not est:
        fail("no certificate facts")
    if sys.argv[3] not in est[-1]["cert_subject"]:
        fail("subject %s" % est[-1]["cert_subject"])
    if est[-1]["cert_problems"] != sys.argv[4]:
        fail("problems %s, want %s" % (est[-1]["cert_problems"], sys.argv[4]))
elif mode == "verdict":
    # verdict REASON-SUBSTRING: one decrypted:false event with that
    # reason, nothing encrypted parsed as SMTP
    v = [t for t in tls(evs) if t["decrypted"] is False and t["reason"]]
    if len(v) != 1 or sys.argv[3] not in v[0]["reason"]:
        fail("verdicts: %s" % v)
    if [c for c in cmds if c["encrypted"]] or \
       [r for r in replies if r["encrypted"]]:
        fail("SMTP parsed from undecrypted TLS")
    if not [e for e in evs if e["event"] == "session_close"]:
        fail("session not tracked to its end")
elif mode == "anomaly":
    # anomaly WHAT: present, and nothing encrypted parsed
    if not [a for a in anoms if a["what"] == sys.argv[3]]:
        fail("no %s anomaly: %s" % (sys.argv[3], anoms))
    if [c for c in cmds if c["encrypted"]]:
        fail("commands parsed with wrong keys")
    if not [e for e in evs if e["event"] == "session_close"]:
        fail("session not tracked to its end")
elif mode == "tshark":
    # tshark FILE: same commands (4 letters, as tshark shows them) and
    # reply codes, in order
    tv, tc = [], []
    for line in open(sys.argv[3]):
        f = line.rstrip("\n").split("\t")
        if f[0]:
            tv += [v[:4].upper() for v in f[0].split(",")]
        if len(f) > 1 and f[1]:
            tc += [int(c) for c in f[1].split(",")]
    sv = [c["verb"][:4] for c in cmds]
    sc = [r["code"] for r in replies]
    # tshark names the code once per packet, so a multi-line reply split
    # over packets shows up twice: compare runs of equal codes.
    squash = lambda l: [c for i, c in enumerate(l) if i == 0 or l[i - 1] != c]
    tc, sc = squash(tc), squash(sc)
    if tv != sv or tc != sc:
        fail("tshark %s %s\nsmtpscope %s %s" % (tv, tc, sv, sc))
EOF

check() {	# check TEXT MODE ARGS...: run check.py on $tmp/out
	what=$1
	mode=$2
	shift 2
	if $py "$tmp/check.py" "$mode" "$tmp/out" "$@" > "$tmp/why" 2>&1; then
		tap_ok 0 "$what"
	else
		tap_ok 1 "$what"
		tap_diag "$(cat "$tmp/why")"
	fi
}

# name  implicit  version  cipher  452
fixtures="
starttls-tls13-aes256 no TLSv1.3 TLS_AES_256_GCM_SHA384 yes
starttls-tls13-aes128 no TLSv1.3 TLS_AES_128_GCM_SHA256 yes
starttls-tls13-chacha-keyupdate no TLSv1.3 TLS_CHACHA20_POLY1305_SHA256 no
starttls-tls12-aes128gcm no TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 yes
starttls-tls12-aes256gcm no TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 yes
starttls-tls12-chacha no TLSv1.2 TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 yes
starttls-tls12-cbc-etm no TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 yes
starttls-tls12-cbc-mte no TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA yes
starttls-curl no TLSv1.3 TLS_AES_256_GCM_SHA384 no
implicit-curl yes TLSv1.3 TLS_AES_256_GCM_SHA384 no
starttls-python-tls12 no TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 yes
implicit-python-tls13 yes TLSv1.3 TLS_AES_256_GCM_SHA384 no
"
nfix=$(echo "$fixtures" | grep -c .)
npub=0
[ -d "$pub" ] && npub=2
tap_plan $((nfix * 2 + 17 + npub * 2))

run() {		# run ARGS...: smtpscope on the fixture ports, JSON to $tmp/out
	"$SMTPSCOPE" -j -P 10525,10565 --tls-ports 10565 "$@" > "$tmp/out" \
	    2> "$tmp/err"
}

echo "$fixtures" | while read -r name implicit version cipher want452; do
	[ -n "$name" ] || continue
	run -r "$fx/$name.pcap" -k "$fx/$name.keylog"
	check "$name: SMTP inside TLS decrypted, tls facts" \
	    decrypted "$version" "$cipher" "$want452" "$implicit"
	if $have_tshark; then
		if [ "$implicit" = yes ]; then
			dec="-d tcp.port==10565,tls -d tls.port==10565,smtp"
		else
			dec="-d tcp.port==10525,smtp"
		fi
		# shellcheck disable=SC2086
		tshark -r "$fx/$name.pcap" -o "tls.keylog_file:$fx/$name.keylog" \
		    $dec -Y smtp -T fields -e smtp.req.command \
		    -e smtp.response.code -E occurrence=a -E aggregator=, \
		    > "$tmp/tshark" 2>/dev/null
		check "$name: same commands and codes as tshark" tshark \
		    "$tmp/tshark"
	else
		tap_ok 0 "$name: tshark cross-check # SKIP no tshark"
	fi
done > "$tmp/tap"
cat "$tmp/tap"
TAP_N=$(grep -c '^\(not \)\?ok' "$tmp/tap")
TAP_FAILED=$(grep -c '^not ok' "$tmp/tap")

f=starttls-tls12-aes128gcm

run -r "$fx/$f.pcap"
check "no key log: one decrypted:false verdict, nothing parsed" verdict \
    "no key log"
check "no key log: TLS 1.2 certificate still reported" cert \
    "CN=mx.example.test" "self-signed"

: > "$tmp/empty.keylog"
run -r "$fx/starttls-tls13-aes256.pcap" -k "$tmp/empty.keylog"
check "key log without this session: reason says so" verdict \
    "no key for this session in the key log"

# A -k file that does not exist, with a capture file: one warning, and the
# session says there is no key log (not that the log lacks its key).
run -r "$fx/starttls-tls13-aes256.pcap" -k "$tmp/missing.keylog"
rc=$?
if [ $rc -eq 0 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] &&
    grep -q "^smtpscope: warning: key log not found: $tmp/missing.keylog;" \
    "$tmp/err"; then
	tap_ok 0 "missing -k file with -r: one \"key log not found\" warning, exit 0"
else
	tap_ok 1 "missing -k file with -r: one \"key log not found\" warning, exit 0"
	tap_diag "exit $rc" "$(cat "$tmp/err")"
fi
check "missing -k file with -r: reason \"no key log\"" verdict "no key log"

# Altered secrets: one hex digit of every secret flipped.
for g in starttls-tls13-aes256 starttls-tls12-cbc-mte; do
	awk '!/^#/ && NF == 3 {
		c = substr($3, 5, 1)
		$3 = substr($3, 1, 4) (c == "0" ? "1" : "0") substr($3, 6)
	} { print }' "$fx/$g.keylog" > "$tmp/wrong.keylog"
	run -r "$fx/$g.pcap" -k "$tmp/wrong.keylog"
	check "$g: wrong keys give a decryption anomaly, no SMTP" anomaly \
	    "TLS decryption failed"
done

# Junk lines around the real ones.
{
	echo "this is not a key log line"
	echo "CLIENT_RANDOM 1234 abcd"
	cat "$fx/starttls-tls13-aes128.keylog"
	printf 'CLIENT_RANDOM %0128d zz\n' 0
	echo
} > "$tmp/junk.keylog"
run -r "$fx/starttls-tls13-aes128.pcap" -k "$tmp/junk.keylog"
check "key log with junk lines still decrypts" decrypted TLSv1.3 \
    TLS_AES_128_GCM_SHA256 yes no

SSLKEYLOGFILE=$fx/starttls-tls12-chacha.keylog run \
    -r "$fx/starttls-tls12-chacha.pcap"
check "SSLKEYLOGFILE is used without -k" decrypted TLSv1.2 \
    TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 yes no

# Keys written while smtpscope runs: the capture is streamed on stdin,
# the key log is empty at the start and filled half way.
if command -v editcap >/dev/null 2>&1; then
	g=starttls-tls13-aes256
	editcap -F pcap -r "$fx/$g.pcap" "$tmp/part1.pcap" 1-20 >/dev/null 2>&1
	editcap -F pcap -r "$fx/$g.pcap" "$tmp/part2.pcap" 21-1000 \
	    >/dev/null 2>&1
	: > "$tmp/late.keylog"
	{
		cat "$tmp/part1.pcap"
		sleep 1
		cat "$fx/$g.keylog" >> "$tmp/late.keylog"
		sleep 0.5
		tail -c +25 "$tmp/part2.pcap"
	} | run -r - -k "$tmp/late.keylog"
	check "keys appended while running: waiting records decrypt" \
	    decrypted TLSv1.3 TLS_AES_256_GCM_SHA384 yes no

	# Certificates are judged at capture time: move the capture 11
	# years on, and 2 days back.
	editcap -t $((11 * 365 * 86400)) "$fx/$f.pcap" "$tmp/later.pcap" \
	    >/dev/null 2>&1
	run -r "$tmp/later.pcap"
	check "certificate expired at capture time" cert "CN=mx.example.test" \
	    "expired,self-signed"
	editcap -t -172800 "$fx/$f.pcap" "$tmp/earlier.pcap" >/dev/null 2>&1
	run -r "$tmp/earlier.pcap"
	check "certificate not yet valid at capture time" cert \
	    "CN=mx.example.test" "not-yet-valid,self-signed"
else
	tap_ok 0 "keys appended while running # SKIP no editcap"
	tap_ok 0 "certificate expired # SKIP no editcap"
	tap_ok 0 "certificate not yet valid # SKIP no editcap"
fi

# Implicit TLS, SNI "localhost", certificate for other.example.net.
run -r "$fx/implicit-python-tls13.pcap" -k "$fx/implicit-python-tls13.keylog"
check "implicit TLS 1.3: certificate name mismatch after decryption" cert \
    "CN=other.example.net" "self-signed,name-mismatch"

# Port 10565 not declared as implicit TLS: TLS bytes where SMTP was
# expected must not become commands.
"$SMTPSCOPE" -j -P 10565 -r "$fx/implicit-curl.pcap" \
    -k "$fx/implicit-curl.keylog" --tls-ports 465 > "$tmp/out" 2>&1
if grep -q '"encrypted":true' "$tmp/out"; then r=1; else r=0; fi
tap_ok $r "implicit TLS on an undeclared port is not decrypted as SMTP"

# The default ports, with no port option at all: the implicit-TLS capture
# moved to 465 and a STARTTLS one to 587 (tcprewrite --portmap).
if command -v tcprewrite >/dev/null 2>&1; then
	tcprewrite --portmap=10565:465 -i "$fx/implicit-curl.pcap" \
	    -o "$tmp/465.pcap" >/dev/null 2>&1
	"$SMTPSCOPE" -j -r "$tmp/465.pcap" -k "$fx/implicit-curl.keylog" \
	    > "$tmp/out" 2> "$tmp/err"
	check "default port 465: implicit TLS, decrypted" decrypted \
	    TLSv1.3 TLS_AES_256_GCM_SHA384 no yes
	tcprewrite --portmap=10525:587 -i "$fx/starttls-python-tls12.pcap" \
	    -o "$tmp/587.pcap" >/dev/null 2>&1
	"$SMTPSCOPE" -j -r "$tmp/587.pcap" -k "$fx/starttls-python-tls12.keylog" \
	    > "$tmp/out" 2> "$tmp/err"
	check "default port 587: STARTTLS followed, the 452 inside decrypted" \
	    decrypted TLSv1.2 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 yes no
else
	tap_ok 0 "default port 465 # SKIP no tcprewrite"
	tap_ok 0 "default port 587 # SKIP no tcprewrite"
fi

# A truncated capture: only the first 12 packets (TLS 1.3 handshake cut).
if command -v editcap >/dev/null 2>&1; then
	editcap -r "$fx/starttls-tls13-aes256.pcap" "$tmp/cut.pcap" 1-12 \
	    >/dev/null 2>&1
	run -r "$tmp/cut.pcap" -k "$fx/starttls-tls13-aes256.keylog"
	if grep -q '"event":"session_close"' "$tmp/out" &&
	    ! grep -q '"event":"anomaly".*TLS' "$tmp/out"; then r=0; else r=1; fi
	tap_ok $r "truncated TLS session: tracked to its end, no crash"
else
	tap_ok 0 "truncated TLS session # SKIP no editcap"
fi

# Public captures with key logs (read in place, never copied).
if [ "$npub" -gt 0 ]; then
	for g in lek-smtp-starttls-keys:25 lek-smtp2525-starttls-keys:2525; do
		name=${g%%:*}
		port=${g##*:}
		"$SMTPSCOPE" -j -P "$port" -r "$pub/$name.pcapng" \
		    -k "$pub/$name.keylog" > "$tmp/out" 2>"$tmp/err"
		if grep -q '"verb":"MAIL".*"encrypted":true' "$tmp/out" &&
		    grep -q '"phase":"established".*"decrypted":true' "$tmp/out"
		then r=0; else r=1; fi
		tap_ok $r "public $name: decrypted (TLS 1.2 DHE CBC)"
		if $have_tshark; then
			tshark -r "$pub/$name.pcapng" \
			    -o "tls.keylog_file:$pub/$name.keylog" \
			    -d "tcp.port==$port,smtp" -Y smtp -T fields \
			    -e smtp.req.command -e smtp.response.code \
			    -E occurrence=a -E aggregator=, > "$tmp/tshark" \
			    2>/dev/null
			check "public $name: same commands and codes as tshark" \
			    tshark "$tmp/tshark"
		else
			tap_ok 0 "public $name: tshark # SKIP no tshark"
		fi
	done
else
	tap_diag "../shared/captures/public absent: public captures skipped"
fi

[ "$TAP_FAILED" -eq 0 ]
