# metrics-lib.sh: shared by tests/metrics.sh and
# tests/integration/live_metrics.sh (source it): what --metrics must say
# about a run, computed from the same run's JSON Lines with jq, and the same
# series picked from a scrape, both as sorted "series value" lines without
# zeros, so that `diff` compares them.

# metrics_free_port: a TCP port on 127.0.0.1 that was free a moment ago.
metrics_free_port() {
	python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# metrics_expected JSONL [live]: the series the JSON events imply.  With
# "live", the stats line's counters (packets, bytes) and the open-session
# gauge are left out: a scrape during a live run precedes the stats line.
metrics_expected() {
	jq -r --arg live "${2:-}" '
	def addr: if startswith("[") then ltrimstr("[") | split("]")[0]
		  else sub(":[0-9]+$"; "") end;
	if .event == "session_open" then "C smtpscope_sessions_total"
	elif .event == "reply" then
		"C smtpscope_replies_total{code=\"\(("000" + (.code | tostring))[-3:])\",cause=\"\(.diagnosis.cause // "none")\"}",
		(if .code == 421 or .code == 452 then
			"C smtpscope_server_replies_total{server=\"\(.server | addr)\",code=\"\(.code)\"}"
		 else empty end),
		(if .latency_ms != null then "C latency_count_all" else empty end)
	elif .event == "message" and .code >= 200 and .code < 300 then
		"C smtpscope_messages_accepted_total"
	elif .event == "anomaly" then
		"C smtpscope_anomalies_total{kind=\"\(.what)\"}",
		(if .attempts != null then
			"N smtpscope_connection_attempts_without_handshake_total \(.attempts)"
		 else empty end)
	elif .event == "tls" and .decrypted == false and .reason != null and
	    .phase != "alert" then "C decrypt_failures_all"
	elif .event == "stats" and $live == "" then
		"V smtpscope_packets_total \(.packets)",
		"V smtpscope_captured_bytes_total \(.bytes)",
		"V smtpscope_sessions_open 0"
	else empty end' "$1" |
		awk '$1 == "C" { sub(/^C /, ""); c[$0]++; next }
		    $1 == "N" { c[$2] += $3; next }
		    $1 == "V" { sub(/^V /, ""); print; next }
		    END { for (k in c) print k, c[k] }' |
		grep -v ' 0$' | LC_ALL=C sort
}

# metrics_actual SCRAPE [live]: the same series from an exposition text.
metrics_actual() {
	awk -v live="${2:-}" '
	/^#/ { next }
	/^smtpscope_reply_latency_seconds_count/ { lat += $NF; next }
	/^smtpscope_decrypt_failures_total/ { dec += $NF; next }
	/^smtpscope_(sessions_total|replies_total|server_replies_total|messages_accepted_total|anomalies_total|connection_attempts_without_handshake_total)[ {]/ {
		print; next }
	live == "" && /^smtpscope_(packets_total|captured_bytes_total|sessions_open) / {
		print; next }
	END { print "latency_count_all", lat + 0
	      print "decrypt_failures_all", dec + 0 }' "$1" |
		grep -v ' 0$' | LC_ALL=C sort
}
