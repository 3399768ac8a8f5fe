#!/bin/bash
# make-tls-captures.sh: record the TLS fixtures of tests/tls.sh with real
# clients against a private Postfix instance, each capture with the key log
# its client wrote.
#
#   tests/scripts/make-tls-captures.sh [OUTDIR]    (default tests/fixtures/tls)
#
# Needs root (tcpdump on lo), postfix, openssl, curl, /usr/bin/python3.
# Postfix listens on 127.0.0.1:10525 (STARTTLS, certificate for
# mx.example.test) and 127.0.0.1:10565 (implicit TLS, "wrapper mode", with a
# certificate for other.example.net so that the name check has something to
# find).  smtpd_recipient_limit = 2: a third RCPT gets "452 4.5.3".
#
# Every capture is one SMTP session; NAME.pcap goes with NAME.keylog.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../fixtures/tls}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/smtpscope-tls.XXXXXX)
# Postfix daemons run as the postfix user: they must reach the directory.
chmod 755 "$work"
P1=10525
P2=10565

. "$here/postfix-instance.sh"

cleanup() {
	pf_stop "$work/pf" 2>/dev/null || true
	[ -n "${tcpdump_pid:-}" ] && kill "$tcpdump_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

# Self-signed certificates, valid ten years from today: the fixtures are
# judged at capture time, so they stay "valid" in the tests.
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
    -subj "/CN=mx.example.test/O=smtpscope test" \
    -addext "subjectAltName=DNS:mx.example.test" \
    -keyout "$work/mx.key" -out "$work/mx.crt" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 \
    -subj "/CN=other.example.net" \
    -addext "subjectAltName=DNS:other.example.net" \
    -keyout "$work/other.key" -out "$work/other.crt" 2>/dev/null

pf_start "$work/pf" "$P1" \
    "smtpd_tls_cert_file = $work/mx.crt" \
    "smtpd_tls_key_file = $work/mx.key" \
    "smtpd_tls_security_level = may" \
    "smtpd_recipient_limit = 2"
pf_master_line "$work/pf" "127.0.0.1:$P2 inet n - n - - smtpd -o smtpd_tls_wrappermode=yes -o smtpd_tls_cert_file=$work/other.crt -o smtpd_tls_key_file=$work/other.key"
postfix -c "$work/pf/etc" reload >/dev/null 2>&1
sleep 1

# capture NAME COMMAND...: run COMMAND while tcpdump records both ports.
capture() {
	name=$1
	shift
	rm -f "$out/$name.pcap" "$out/$name.keylog"
	tcpdump -i lo -U -s 0 -w "$out/$name.pcap" \
	    "tcp port $P1 or tcp port $P2" 2>/dev/null &
	tcpdump_pid=$!
	sleep 1
	"$@" >/dev/null 2>&1 || echo "make-tls-captures: $name: client failed" >&2
	sleep 1
	kill "$tcpdump_pid"
	wait "$tcpdump_pid" 2>/dev/null || true
	tcpdump_pid=
	echo "$name: $(tcpdump -r "$out/$name.pcap" 2>/dev/null | wc -l) packets, $(wc -l < "$out/$name.keylog") key lines"
}

# The SMTP dialogue after STARTTLS, slow enough for the server.
dialogue() {
	sleep 0.7
	for line in "EHLO client.example.test" "MAIL FROM:<alice@example.test>" \
	    "RCPT TO:<bob@example.test>" "RCPT TO:<carol@example.test>" \
	    "RCPT TO:<dave@example.test>" "RSET" "QUIT"; do
		printf '%s\n' "$line"
		sleep 0.3
	done
	sleep 0.5
}

# openssl s_client with STARTTLS; extra options select version/cipher.
s_client() {
	keylog=$1
	shift
	dialogue | openssl s_client -connect 127.0.0.1:$P1 -starttls smtp \
	    -name client.example.test -servername mx.example.test \
	    -keylogfile "$keylog" -crlf -quiet -nocommands "$@"
}

# With command letters: a "k" line makes s_client send a TLS 1.3 KeyUpdate,
# "K" one that asks the server to update too.  SMTP verbs in lower case so
# that "R"/"Q" are not taken as commands.
s_client_keyupdate() {
	keylog=$1
	shift
	{
		sleep 0.7
		for line in "ehlo client.example.test" "k" \
		    "mail from:<alice@example.test>" "K" \
		    "rcpt to:<bob@example.test>" "quit"; do
			printf '%s\n' "$line"
			sleep 0.4
		done
		sleep 0.5
	} | openssl s_client -connect 127.0.0.1:$P1 -starttls smtp \
	    -name client.example.test -servername mx.example.test \
	    -keylogfile "$keylog" -crlf "$@"
}

capture starttls-tls13-aes256 s_client "$out/starttls-tls13-aes256.keylog" \
    -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384
capture starttls-tls13-aes128 s_client "$out/starttls-tls13-aes128.keylog" \
    -tls1_3 -ciphersuites TLS_AES_128_GCM_SHA256
capture starttls-tls13-chacha-keyupdate s_client_keyupdate \
    "$out/starttls-tls13-chacha-keyupdate.keylog" \
    -tls1_3 -ciphersuites TLS_CHACHA20_POLY1305_SHA256
capture starttls-tls12-aes128gcm s_client "$out/starttls-tls12-aes128gcm.keylog" \
    -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
capture starttls-tls12-aes256gcm s_client "$out/starttls-tls12-aes256gcm.keylog" \
    -tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384
capture starttls-tls12-chacha s_client "$out/starttls-tls12-chacha.keylog" \
    -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
capture starttls-tls12-cbc-etm s_client "$out/starttls-tls12-cbc-etm.keylog" \
    -tls1_2 -cipher ECDHE-RSA-AES128-SHA256
capture starttls-tls12-cbc-mte s_client "$out/starttls-tls12-cbc-mte.keylog" \
    -tls1_2 -cipher ECDHE-RSA-AES256-SHA -no_etm

printf 'Subject: smtpscope TLS test\r\n\r\nHello over TLS.\r\n' > "$work/msg"
capture starttls-curl env SSLKEYLOGFILE="$out/starttls-curl.keylog" \
    curl -s smtp://127.0.0.1:$P1 --mail-from alice@example.test \
    --mail-rcpt bob@example.test -T "$work/msg" --ssl-reqd -k
capture implicit-curl env SSLKEYLOGFILE="$out/implicit-curl.keylog" \
    curl -s smtps://127.0.0.1:$P2 --mail-from alice@example.test \
    --mail-rcpt bob@example.test -T "$work/msg" -k

# Python smtplib: TLS 1.2 after STARTTLS, three recipients (the third gets
# 452), then the message to the two accepted ones.
cat > "$work/py-starttls.py" <<'EOF'
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
ctx.keylog_filename = sys.argv[2]
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), local_hostname="py.example.test")
s.starttls(context=ctx)
s.ehlo("py.example.test")
s.sendmail("alice@example.test",
           ["bob@example.test", "carol@example.test", "dave@example.test"],
           b"Subject: smtplib over TLS\r\n\r\nHi.\r\n")
s.quit()
EOF
capture starttls-python-tls12 /usr/bin/python3 "$work/py-starttls.py" $P1 \
    "$out/starttls-python-tls12.keylog"

# Python smtplib on the implicit-TLS port, TLS 1.3, SNI "localhost": the
# server's certificate names other.example.net.
cat > "$work/py-implicit.py" <<'EOF'
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.keylog_filename = sys.argv[2]
s = smtplib.SMTP_SSL("localhost", int(sys.argv[1]), context=ctx,
                     local_hostname="py.example.test")
s.sendmail("alice@example.test", ["bob@example.test"],
           b"Subject: smtplib over implicit TLS\r\n\r\nHi.\r\n")
s.quit()
EOF
capture implicit-python-tls13 /usr/bin/python3 "$work/py-implicit.py" $P2 \
    "$out/implicit-python-tls13.keylog"
