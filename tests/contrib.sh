#!/bin/sh
# contrib.sh: lint the files in contrib/: the Prometheus scrape config and
# alerting rules (promtool check config / check rules, and promtool test
# rules on made-up series: the 421 alert fires for the server whose rate
# rises and not for a steady one, the 452 rcpt-limit alert fires once one is
# seen), the systemd unit (systemd-analyze verify, with ExecStart pointed at
# the built binary) and the logrotate file (logrotate -d).  A tool that is
# not installed skips its part, saying so.
. "$(dirname "$0")/lib.sh"
tap_init

c=$top_srcdir/contrib
tmp=$(mktemp -d "${TMPDIR:-/tmp}/contrib.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
tap_plan 5

promtool=$(command -v promtool)
if [ -z "$promtool" ]; then
	tap_skip "promtool check config: promtool not installed (Debian package prometheus)"
	tap_skip "promtool check rules: promtool not installed"
	tap_skip "promtool test rules: promtool not installed"
else
	"$promtool" check config "$c/prometheus.yml" > "$tmp/out" 2>&1
	rc=$?
	tap_ok $rc "promtool check config contrib/prometheus.yml"
	[ $rc -eq 0 ] || tap_diag "$(cat "$tmp/out")"
	"$promtool" check rules "$c/smtpscope-alerts.yml" > "$tmp/out" 2>&1
	rc=$?
	tap_ok $rc "promtool check rules contrib/smtpscope-alerts.yml"
	[ $rc -eq 0 ] || tap_diag "$(cat "$tmp/out")"
	cat > "$tmp/test.yml" << EOF2
rule_files:
  - $c/smtpscope-alerts.yml
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      # 1 a minute for an hour, then 5 a minute: rising.
      - series: 'smtpscope_server_replies_total{instance="mx1:9187",job="smtpscope",server="192.0.2.7",code="421"}'
        values: '0+1x60 61+5x40'
      # 3 a minute throughout: steady, no alert.
      - series: 'smtpscope_server_replies_total{instance="mx1:9187",job="smtpscope",server="192.0.2.8",code="421"}'
        values: '0+3x100'
      - series: 'smtpscope_replies_total{instance="mx1:9187",job="smtpscope",code="452",cause="rcpt-limit"}'
        values: '0x30 1 1 1'
    alert_rule_test:
      - eval_time: 50m
        alertname: SmtpscopeServer421Rising
        exp_alerts: []
      - eval_time: 80m
        alertname: SmtpscopeServer421Rising
        exp_alerts:
          - exp_labels: {severity: warning, instance: "mx1:9187", server: "192.0.2.7"}
            exp_annotations:
              summary: "421 replies from 192.0.2.7 are rising (seen by mx1:9187)"
              description: "5.0 421 replies a minute over the last 10 minutes, more than twice the hour before. Open the sessions with smtpscope (the 421 box says why) or jq the JSON Lines for server == 192.0.2.7."
      - eval_time: 20m
        alertname: SmtpscopeRcptLimit452
        exp_alerts: []
      - eval_time: 32m
        alertname: SmtpscopeRcptLimit452
        exp_alerts:
          - exp_labels: {severity: info, instance: "mx1:9187"}
            exp_annotations:
              summary: "452 too many recipients seen by mx1:9187"
              description: "1 452 replies with cause rcpt-limit in 15 minutes: a transaction carried more recipients than the server accepts. Lower the sender's recipients per transaction to the limit the server shows."
EOF2
	"$promtool" test rules "$tmp/test.yml" > "$tmp/out" 2>&1
	rc=$?
	tap_ok $rc "promtool test rules: the two alerts fire when they should"
	[ $rc -eq 0 ] || tap_diag "$(cat "$tmp/out")"
fi

if ! command -v systemd-analyze > /dev/null; then
	tap_skip "systemd-analyze verify: systemd-analyze not installed"
elif [ ! -x "$SMTPSCOPE" ]; then
	tap_skip "systemd-analyze verify: no smtpscope binary at $SMTPSCOPE"
else
	sed "s|/usr/local/bin/smtpscope|$SMTPSCOPE|" "$c/smtpscope.service" \
	    > "$tmp/smtpscope.service"
	systemd-analyze verify --man=no "$tmp/smtpscope.service" \
	    > "$tmp/out" 2>&1
	rc=$?
	# Some containers have no systemd to ask; the unit's own errors name
	# the unit file.
	if [ $rc -ne 0 ] && ! grep -q 'smtpscope.service' "$tmp/out"; then
		tap_skip "systemd-analyze verify: cannot run here: $(head -n 1 "$tmp/out")"
	else
		[ $rc -eq 0 ] && ! grep -q 'smtpscope.service' "$tmp/out"
		rc=$?
		tap_ok $rc "systemd-analyze verify contrib/smtpscope.service"
		[ $rc -eq 0 ] || tap_diag "$(cat "$tmp/out")"
	fi
fi

if ! command -v logrotate > /dev/null; then
	tap_skip "logrotate -d: logrotate not installed"
else
	logrotate -d -s "$tmp/state" "$c/smtpscope.logrotate" > "$tmp/out" 2>&1
	rc=$?
	! grep -qi 'error' "$tmp/out" && [ $rc -eq 0 ]
	rc=$?
	tap_ok $rc "logrotate -d contrib/smtpscope.logrotate"
	[ $rc -eq 0 ] || tap_diag "$(cat "$tmp/out")"
fi
[ "$TAP_FAILED" -eq 0 ]
