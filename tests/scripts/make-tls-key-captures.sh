#!/bin/bash
# make-tls-key-captures.sh: record the fixtures of tests/tls_keys.sh, the
# TLS sessions that need more than a TLS 1.2 key log with ECDHE: RSA key
# exchange (decrypted with the server's private key), the AES-CCM suites,
# and TLS 1.3 with AES-128-CCM.
#
#   tests/scripts/make-tls-key-captures.sh [OUTDIR [NAME...]]
#                                      (default tests/fixtures/tls, all)
#
# With NAMEs only those captures are made again.  An existing
# OUTDIR/rsa-server.key is kept (a new certificate is made for it), so the
# other captures stay decryptable with it.
#
# Needs root (tcpdump on lo), postfix, openssl, swaks with Net::SSLeay.  A private Postfix instance
# with one RSA certificate (mx.example.test) listens on three ports:
#   10725  STARTTLS, TLS 1.2 only, and only TLS_RSA_WITH_AES_128_GCM_SHA256
#          (tls_high_cipherlist = AES128-GCM-SHA256, smtpd_tls_ciphers and
#          smtpd_tls_mandatory_ciphers = high): RSA key exchange forced
#   10735  STARTTLS, TLS 1.2 only, RSA and DHE key exchange with AES-CCM
#   10755  as 10725, with extended_master_secret turned off
#   10745  STARTTLS, TLS 1.3 with TLS_AES_128_CCM_SHA256 enabled through an
#          OpenSSL configuration file of our own (Postfix 3.7 has no
#          parameter for TLS 1.3 suites; OPENSSL_CONF is passed to smtpd
#          through import_environment)
# smtpd_recipient_limit = 2: a third RCPT gets "452 4.5.3".
#
# Written: NAME.pcap and NAME.keylog per session, and rsa-server.key, the
# server's private key (a throwaway test key, made here).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../fixtures/tls}
[ $# -gt 0 ] && shift
only=" $* "
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/smtpscope-tlskey.XXXXXX)
chmod 755 "$work"
P1=10725
P2=10735
P3=10745
P4=10755

. "$here/postfix-instance.sh"

cleanup() {
	pf_stop "$work/pf" 2>/dev/null || true
	[ -n "${tcpdump_pid:-}" ] && kill "$tcpdump_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

if [ ! -f "$out/rsa-server.key" ]; then
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
	    -out "$out/rsa-server.key" 2>/dev/null
fi
openssl req -x509 -new -key "$out/rsa-server.key" -days 3650 \
    -subj "/CN=mx.example.test/O=smtpscope test" \
    -addext "subjectAltName=DNS:mx.example.test" \
    -out "$work/mx.crt" 2>/dev/null
chmod 644 "$out/rsa-server.key"
# DHE needs parameters; the 2048-bit RFC 7919 group ships with OpenSSL.
openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe2048 \
    -out "$work/dh.pem" 2>/dev/null

cat > "$work/openssl.cnf" <<'EOF'
openssl_conf = smtpscope_conf
[smtpscope_conf]
ssl_conf = smtpscope_ssl
[smtpscope_ssl]
system_default = smtpscope_tls
[smtpscope_tls]
Ciphersuites = TLS_AES_128_CCM_SHA256:TLS_AES_128_CCM_8_SHA256:TLS_AES_128_GCM_SHA256
EOF
chmod 644 "$work/openssl.cnf"

pf_start "$work/pf" "$P1" \
    "smtpd_tls_cert_file = $work/mx.crt" \
    "smtpd_tls_key_file = $out/rsa-server.key" \
    "smtpd_tls_dh1024_param_file = $work/dh.pem" \
    "smtpd_tls_security_level = may" \
    "smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2" \
    "smtpd_tls_ciphers = high" \
    "smtpd_tls_mandatory_ciphers = high" \
    "tls_high_cipherlist = AES128-GCM-SHA256" \
    "tls_preempt_cipherlist = yes" \
    "smtpd_recipient_limit = 2" \
    "import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME OPENSSL_CONF=$work/openssl.cnf"
pf_master_line "$work/pf" "127.0.0.1:$P2 inet n - n - - smtpd -o tls_high_cipherlist=AES128-CCM:AES128-CCM8:DHE-RSA-AES128-CCM:DHE-RSA-AES128-CCM8 -o tls_preempt_cipherlist=no"
pf_master_line "$work/pf" "127.0.0.1:$P3 inet n - n - - smtpd -o smtpd_tls_protocols=>=TLSv1.3"
pf_master_line "$work/pf" "127.0.0.1:$P4 inet n - n - - smtpd -o tls_ssl_options=0x1"
postfix -c "$work/pf/etc" reload >/dev/null 2>&1
sleep 1

# capture NAME COMMAND...: run COMMAND while tcpdump records the ports.
capture() {
	name=$1
	shift
	if [ "$only" != "  " ] && [ "${only#* "$name" }" = "$only" ]; then
		return 0
	fi
	rm -f "$out/$name.pcap" "$out/$name.keylog"
	tcpdump -i lo -U -s 0 -w "$out/$name.pcap" \
	    "tcp portrange $P1-$P4" 2>/dev/null &
	tcpdump_pid=$!
	sleep 1
	"$@" >/dev/null 2>&1 || echo "make-tls-key-captures: $name: client failed" >&2
	sleep 1
	kill "$tcpdump_pid"
	wait "$tcpdump_pid" 2>/dev/null || true
	tcpdump_pid=
	echo "$name: $(tcpdump -r "$out/$name.pcap" 2>/dev/null | wc -l) packets, $(cat "$out/$name.keylog" 2>/dev/null | wc -l) key lines"
}

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

# s_client PORT KEYLOG OPTIONS...: STARTTLS with openssl s_client.
s_client() {
	port=$1
	keylog=$2
	shift 2
	dialogue | openssl s_client -connect 127.0.0.1:"$port" -starttls smtp \
	    -name client.example.test -servername mx.example.test \
	    -keylogfile "$keylog" -crlf -quiet -nocommands "$@"
}

# The client offers its defaults; the server allows RSA key exchange with
# AES-128-GCM only.  The client sends extended_master_secret (RFC 7627).
capture starttls-tls12-rsa-aes128gcm s_client $P1 \
    "$out/starttls-tls12-rsa-aes128gcm.keylog"
# swaks as the client (TLS through Net::SSLeay, libnet-ssleay-perl; it
# writes no key log: only the server's key decrypts it), with a message.
capture starttls-tls12-rsa-swaks swaks --server 127.0.0.1 --port $P1 --tls \
    --helo swaks.example.test --from alice@example.test \
    --to bob@example.test --body "RSA key exchange test"
# Without extended_master_secret: the server turns it off
# (tls_ssl_options 0x1, SSL_OP_NO_EXTENDED_MASTER_SECRET in OpenSSL 3).
capture starttls-tls12-rsa-noems s_client $P4 \
    "$out/starttls-tls12-rsa-noems.keylog"
capture starttls-tls12-rsa-aes128ccm s_client $P2 \
    "$out/starttls-tls12-rsa-aes128ccm.keylog" -tls1_2 -cipher AES128-CCM
capture starttls-tls12-rsa-aes128ccm8 s_client $P2 \
    "$out/starttls-tls12-rsa-aes128ccm8.keylog" -tls1_2 -cipher AES128-CCM8
capture starttls-tls12-dhe-aes128ccm s_client $P2 \
    "$out/starttls-tls12-dhe-aes128ccm.keylog" -tls1_2 \
    -cipher DHE-RSA-AES128-CCM
capture starttls-tls13-aes128ccm s_client $P3 \
    "$out/starttls-tls13-aes128ccm.keylog" -tls1_3 \
    -ciphersuites TLS_AES_128_CCM_SHA256

# Resumption: a full RSA handshake that gets a session ticket, then a
# second session that resumes it (abbreviated handshake, no
# ClientKeyExchange); only the first one's master secret opens the second.
resume_pair() {
	s_client $P1 "$1" -sess_out "$work/sess.pem"
	s_client $P1 "$1" -sess_in "$work/sess.pem"
}
capture starttls-tls12-rsa-resumed resume_pair \
    "$out/starttls-tls12-rsa-resumed.keylog"

# TLS 1.3 with only the application traffic secrets: the key log of
# make-tls-captures.sh's starttls-tls13-aes256 without its handshake lines
# (what a server logging only application secrets gives).
if [ -f "$out/starttls-tls13-aes256.keylog" ]; then
	grep -v HANDSHAKE_TRAFFIC_SECRET "$out/starttls-tls13-aes256.keylog" \
	    > "$out/starttls-tls13-aes256.app-only.keylog"
fi
