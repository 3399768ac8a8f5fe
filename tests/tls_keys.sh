#!/bin/sh
# tls_keys.sh: TLS decryption beyond a TLS 1.2 key log with ECDHE, on the
# captures of tests/scripts/make-tls-key-captures.sh (real Postfix, openssl
# s_client and swaks) and of make-tls-captures.sh:
# - --tls-key: the server's RSA key decrypts TLS_RSA_WITH_AES_128_GCM_SHA256
#   (Postfix forced to RSA key exchange), with and without the extended
#   master secret, from s_client and from swaks; the same dialogue as the
#   key log gives; a wrong key, ECDHE, DHE and TLS 1.3 say why not;
# - AES-CCM and AES-CCM-8 in TLS 1.2 (with the key, and DHE with the key
#   log) and TLS_AES_128_CCM_SHA256 in TLS 1.3;
# - a TLS 1.3 key log without the handshake secrets: the dialogue is
#   decrypted, the handshake is said to stay opaque; altered application
#   secrets decrypt nothing.
# The commands and codes are compared with tshark's when it is installed.
. "${top_srcdir:-$(dirname "$0")/..}/tests/lib.sh"
tap_init

fx=$top_srcdir/tests/fixtures/tls
py=/usr/bin/python3
[ -x "$py" ] || tap_skip_all "needs /usr/bin/python3"
[ -x "$SMTPSCOPE" ] || tap_skip_all "no smtpscope binary at $SMTPSCOPE"
have_tshark=false
command -v tshark >/dev/null 2>&1 && have_tshark=true
key=$fx/rsa-server.key

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
unset SSLKEYLOGFILE

cat > "$tmp/check.py" <<'EOF'
import json, sys

def fail(msg):
    print(msg)
    sys.exit(1)

mode, path = sys.argv[1], sys.argv[2]
evs = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
tls = [e for e in evs if e["event"] == "tls"]
cmds = [e for e in evs if e["event"] == "command"]
replies = [e for e in evs if e["event"] == "reply"]
anoms = [e for e in evs if e["event"] == "anomaly"]

if mode == "decrypted":
    # decrypted VERSION CIPHER WANT452 [REASON-SUBSTRING]
    version, cipher, want452 = sys.argv[3:6]
    enc = [c["verb"] for c in cmds if c["encrypted"]]
    for verb in ("EHLO", "MAIL", "RCPT", "QUIT"):
        if verb not in enc:
            fail("no encrypted %s (encrypted: %s)" % (verb, enc))
    if [c for c in cmds if not c["encrypted"] and c["verb"] == "MAIL"]:
        fail("MAIL in clear")
    codes = [r["code"] for r in replies if r["encrypted"]]
    if (452 in codes) != (want452 == "yes"):
        fail("452 inside TLS: %s" % codes)
    est = [t for t in tls if t["phase"] == "established"]
    if len(est) != 1 or not est[0]["decrypted"]:
        fail("established: %s" % est)
    if est[0]["version"] != version or est[0]["cipher"] != cipher:
        fail("version/cipher %s %s" % (est[0]["version"], est[0]["cipher"]))
    want = sys.argv[6] if len(sys.argv) > 6 else None
    got = est[0]["reason"]
    if (want is None and got is not None) or \
       (want is not None and (got is None or want not in got)):
        fail("established reason %r, want %r" % (got, want))
    if [t for t in tls if t["decrypted"] is False and t["reason"]]:
        fail("a decrypted:false verdict next to decryption")
    if anoms:
        fail("anomalies: %s" % anoms)
elif mode == "verdict":
    # verdict SUBSTRING...: one decrypted:false reason holding them all,
    # nothing encrypted parsed as SMTP
    v = [t for t in tls if t["decrypted"] is False and t["reason"]]
    if len(v) != 1 or [w for w in sys.argv[3:] if w not in v[0]["reason"]]:
        fail("verdicts: %s" % [t["reason"] for t in v])
    if [c for c in cmds if c["encrypted"]] or \
       [r for r in replies if r["encrypted"]]:
        fail("SMTP parsed from undecrypted TLS")
    if not [e for e in evs if e["event"] == "session_close"]:
        fail("session not tracked to its end")
elif mode == "same":
    # same OTHER.json: the same commands and replies
    other = [json.loads(l) for l in open(sys.argv[3]) if l.strip()]
    key = lambda l: [(e["event"], e.get("verb"), e.get("arg"), e.get("code"),
                      e.get("text")) for e in l
                     if e["event"] in ("command", "reply", "message")]
    if key(evs) != key(other):
        fail("differ:\n%s\n%s" % (key(evs), key(other)))
elif mode == "tshark":
    tv, tc = [], []
    for line in open(sys.argv[3]):
        f = line.rstrip("\n").split("\t")
        if f[0]:
            tv += [v[:4].upper() for v in f[0].split(",")]
        if len(f) > 1 and f[1]:
            tc += [int(c) for c in f[1].split(",")]
    squash = lambda l: [c for i, c in enumerate(l) if i == 0 or l[i - 1] != c]
    sv = [c["verb"][:4] for c in cmds]
    sc = [r["code"] for r in replies]
    if tv != sv or squash(tc) != squash(sc):
        fail("tshark %s %s\nsmtpscope %s %s" % (tv, tc, sv, sc))
EOF

check() {	# check TEXT MODE ARGS...: check.py on $tmp/out
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

run() {		# run ARGS...: JSON on $tmp/out
	"$SMTPSCOPE" -j -P 10525,10725,10735,10745,10755 "$@" > "$tmp/out" \
	    2> "$tmp/err"
}

tshark_check() {	# tshark_check NAME PORT KEYLOG
	if $have_tshark; then
		tshark -r "$fx/$1.pcap" -o "tls.keylog_file:$3" \
		    -d "tcp.port==$2,smtp" -Y smtp -T fields \
		    -e smtp.req.command -e smtp.response.code \
		    -E occurrence=a -E aggregator=, > "$tmp/tshark" 2>/dev/null
		check "$1: same commands and codes as tshark" tshark \
		    "$tmp/tshark"
	else
		tap_ok 0 "$1: tshark cross-check # SKIP no tshark"
	fi
}

tap_plan 29

# ---- RSA key exchange with the server's key
r=TLS_RSA_WITH_AES_128_GCM_SHA256
run -r "$fx/starttls-tls12-rsa-aes128gcm.pcap" --tls-key "$key"
check "RSA kex, extended master secret: --tls-key alone decrypts" \
    decrypted TLSv1.2 $r yes
cp "$tmp/out" "$tmp/bykey"
run -r "$fx/starttls-tls12-rsa-aes128gcm.pcap" \
    -k "$fx/starttls-tls12-rsa-aes128gcm.keylog"
check "RSA kex: the key log gives the same dialogue as the key" same \
    "$tmp/bykey"
run -r "$fx/starttls-tls12-rsa-aes128gcm.pcap" \
    -k "$fx/starttls-tls12-rsa-aes128gcm.keylog" --tls-key "$key"
check "RSA kex: key log and key together" decrypted TLSv1.2 $r yes
tshark_check starttls-tls12-rsa-aes128gcm 10725 \
    "$fx/starttls-tls12-rsa-aes128gcm.keylog"

run -r "$fx/starttls-tls12-rsa-noems.pcap" --tls-key "$key"
check "RSA kex without extended master secret: decrypted" decrypted \
    TLSv1.2 $r yes
if $py - "$fx/starttls-tls12-rsa-noems.pcap" <<'EOF'
import sys
d = open(sys.argv[1], "rb").read()
# The ServerHello carries no extended_master_secret (type 23, length 0):
# the fixture really tests the RFC 5246 derivation.
sh = d.find(b"\x16\x03\x03", d.find(b"\x16\x03\x01") + 5)
sys.exit(1 if d.find(b"\x00\x17\x00\x00", sh, sh + 120) >= 0 else 0)
EOF
then tap_ok 0 "the no-EMS fixture's ServerHello has no extended_master_secret"
else tap_ok 1 "the no-EMS fixture's ServerHello has no extended_master_secret"
fi

run -r "$fx/starttls-tls12-rsa-swaks.pcap" --tls-key "$key"
if grep -q '"event":"message".*"queue_id":"[0-9A-F]' "$tmp/out" &&
    grep -q '"verb":"DATA".*"encrypted":true' "$tmp/out" &&
    grep -q '"phase":"established".*"cipher":"'$r'".*"decrypted":true' \
    "$tmp/out"; then r2=0; else r2=1; fi
tap_ok $r2 "swaks over RSA kex: the message and its queue id decrypted"

# A key that is not the server's: the certificate says so.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$tmp/other.key" 2>/dev/null
run -r "$fx/starttls-tls12-rsa-aes128gcm.pcap" --tls-key "$tmp/other.key"
check "another RSA key: the certificate is not for it" verdict \
    "not for the key given with --tls-key"

# No key: the key log's absence and what would help.
: > "$tmp/empty.keylog"
run -r "$fx/starttls-tls12-rsa-aes128gcm.pcap" -k "$tmp/empty.keylog"
check "RSA kex, no key: the reason names --tls-key" verdict \
    "no key for this session" "RSA key exchange" "--tls-key"

# Forward secrecy: the key cannot help.
run -r "$fx/starttls-tls12-aes128gcm.pcap" --tls-key "$tmp/other.key"
check "ECDHE with --tls-key only: a key log is needed" verdict \
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 uses ECDHE key exchange" \
    "cannot decrypt" "key log"
run -r "$fx/starttls-tls12-aes128gcm.pcap" --tls-key "$tmp/other.key" \
    -k "$tmp/empty.keylog"
check "ECDHE, key log without it, --tls-key: the key cannot help" \
    verdict "no key for this session" "--tls-key key cannot help" "ECDHE"
run -r "$fx/starttls-tls12-dhe-aes128ccm.pcap" --tls-key "$key"
check "DHE with the server's own key: a key log is needed" verdict \
    "uses DHE key exchange" "cannot decrypt"
run -r "$fx/starttls-tls13-aes256.pcap" --tls-key "$tmp/other.key"
check "TLS 1.3 with --tls-key only: a key log is needed" verdict \
    "TLS_AES_256_GCM_SHA384 uses ephemeral (EC)DHE key exchange" "key log"

# Bad key files: one error line, exit 1.
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$tmp/ec.key" 2>/dev/null
for k in "$tmp/missing.key" "$tmp/ec.key" "$fx/starttls-tls12-rsa-swaks.pcap"
do
	run -r "$fx/starttls-tls12-rsa-aes128gcm.pcap" --tls-key "$k"
	rc=$?
	if [ $rc -eq 1 ] && [ -s "$tmp/err" ] && [ ! -s "$tmp/out" ] &&
	    [ "$(grep -vc '^hint: ' "$tmp/err")" -eq 1 ] &&
	    grep -q "^smtpscope: --tls-key: $k: " "$tmp/err"; then r2=0
	else r2=1; fi
	tap_ok $r2 "--tls-key $(basename "$k"): one error line (and a hint), exit 1"
	[ $r2 -eq 0 ] || tap_diag "exit $rc: $(cat "$tmp/err")"
done

# Resumption: the second session has no ClientKeyExchange; the master
# secret of the first (its ticket) opens it.  Alone it cannot be opened.
run -r "$fx/starttls-tls12-rsa-resumed.pcap" --tls-key "$key"
if [ "$(grep -c '"phase":"established".*"decrypted":true' "$tmp/out")" -eq 2 ] &&
    [ "$(grep -c '"verb":"QUIT".*"encrypted":true' "$tmp/out")" -eq 2 ] &&
    [ "$(grep -c '"code":452.*"encrypted":true' "$tmp/out")" -eq 2 ]
then r2=0; else r2=1; fi
tap_ok $r2 "RSA kex, resumed session: decrypted with the first one's secret"
port=$($py -c '
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if "session_open" in l]
print(s[1]["client"].rsplit(":", 1)[1])' "$tmp/out" 2>/dev/null)
if [ -n "$port" ] && command -v tcpdump >/dev/null 2>&1 &&
    tcpdump -r "$fx/starttls-tls12-rsa-resumed.pcap" -w "$tmp/second.pcap" \
    "tcp port $port" 2>/dev/null; then
	run -r "$tmp/second.pcap" --tls-key "$key"
	check "RSA kex, resumed session alone: says why the key cannot help" \
	    verdict "resumes an earlier TLS session" "capture from before"
else
	tap_ok 0 "resumed session alone # SKIP no tcpdump"
fi

# ---- AES-CCM
run -r "$fx/starttls-tls12-rsa-aes128ccm.pcap" --tls-key "$key"
check "TLS 1.2 AES-128-CCM (RSA kex, by the key)" decrypted TLSv1.2 \
    TLS_RSA_WITH_AES_128_CCM yes
run -r "$fx/starttls-tls12-rsa-aes128ccm8.pcap" --tls-key "$key"
check "TLS 1.2 AES-128-CCM-8 (RSA kex, by the key)" decrypted TLSv1.2 \
    TLS_RSA_WITH_AES_128_CCM_8 yes
run -r "$fx/starttls-tls12-dhe-aes128ccm.pcap" \
    -k "$fx/starttls-tls12-dhe-aes128ccm.keylog"
check "TLS 1.2 DHE AES-128-CCM (key log)" decrypted TLSv1.2 \
    TLS_DHE_RSA_WITH_AES_128_CCM yes
tshark_check starttls-tls12-dhe-aes128ccm 10735 \
    "$fx/starttls-tls12-dhe-aes128ccm.keylog"
run -r "$fx/starttls-tls13-aes128ccm.pcap" \
    -k "$fx/starttls-tls13-aes128ccm.keylog"
check "TLS 1.3 TLS_AES_128_CCM_SHA256 (key log)" decrypted TLSv1.3 \
    TLS_AES_128_CCM_SHA256 yes
tshark_check starttls-tls13-aes128ccm 10745 \
    "$fx/starttls-tls13-aes128ccm.keylog"

# ---- TLS 1.3 with only the application traffic secrets
opaque="the handshake (certificate, extensions, Finished) stays opaque"
for g in starttls-tls13-aes256:yes starttls-tls13-chacha-keyupdate:no; do
	name=${g%%:*}
	grep -v HANDSHAKE_TRAFFIC_SECRET "$fx/$name.keylog" > "$tmp/app.keylog"
	run -r "$fx/$name.pcap" -k "$fx/$name.keylog"
	cp "$tmp/out" "$tmp/full"
	run -r "$fx/$name.pcap" -k "$tmp/app.keylog"
	v=TLS_AES_256_GCM_SHA384
	[ "$name" = starttls-tls13-chacha-keyupdate ] &&
	    v=TLS_CHACHA20_POLY1305_SHA256
	check "$name, application secrets only: decrypted, handshake opaque" \
	    decrypted TLSv1.3 $v "${g##*:}" "$opaque"
	check "$name, application secrets only: same dialogue as with all" \
	    same "$tmp/full"
done
# Altered application secrets: nothing parsed, one verdict.
grep -v HANDSHAKE_TRAFFIC_SECRET "$fx/starttls-tls13-aes256.keylog" |
    awk '!/^#/ && NF == 3 {
	c = substr($3, 5, 1)
	$3 = substr($3, 1, 4) (c == "0" ? "1" : "0") substr($3, 6)
} { print }' > "$tmp/wrong.keylog"
run -r "$fx/starttls-tls13-aes256.pcap" -k "$tmp/wrong.keylog"
check "altered application secrets: nothing decrypted, one verdict" \
    verdict "application secrets do not decrypt this session"
