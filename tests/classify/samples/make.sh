#!/usr/bin/env bash
# Regenerate the real-server bounce samples (tests/classify/samples/real_*.eml).
#
# Each MTA is a Debian package; they conflict with each other, so they are installed one at a
# time, run privately on 127.0.0.1:2525 (system service stopped), relay everything to the
# refusing sink (make/sink.py on 127.0.0.1:2526) with a short queue lifetime, and are purged
# afterwards so no port stays taken. Needs root and the Debian archive.
#
#   tests/classify/samples/make.sh [postfix] [exim] [opensmtpd] [sendmail]
#
# The sink refuses by local part (see make/sink.py); make/send.py submits one touch per
# scenario and names the DSNs that come back real_MTA_SCENARIO.eml. SOURCES.md lists them.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
PY="${PY:-/work/main/.venv/bin/python}"
WAIT="${WAIT:-150}"          # seconds to wait for delay warnings and queue expiry
MTAS=("$@")
[ ${#MTAS[@]} -gt 0 ] || MTAS=(postfix exim opensmtpd sendmail)
export DEBIAN_FRONTEND=noninteractive

SINK_PID=""
start_sink() {
    RAW="$(mktemp -d)"
    "$PY" "$HERE/make/sink.py" "$RAW" 2526 >"$RAW/sink.log" 2>&1 &
    SINK_PID=$!
    for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/2526) 2>/dev/null && return; sleep 0.2; done
    echo "sink did not start" >&2; exit 1
}
stop_sink() { [ -n "$SINK_PID" ] && kill "$SINK_PID" && wait "$SINK_PID" || true; SINK_PID=""; }
MTA_PID=""   # the private MTA daemon we started, stopped on any exit
stop_mta() { [ -n "$MTA_PID" ] && kill "$MTA_PID" 2>/dev/null || true; MTA_PID=""; }
trap 'stop_mta; stop_sink' EXIT

wait_port() { for _ in $(seq 400); do (echo >/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return; sleep 0.2; done; echo "port $1 not up" >&2; exit 1; }

# wait until the sink has saved N files or WAIT seconds passed
wait_dsns() {
    local want=$1 end=$((SECONDS + WAIT))
    while [ $SECONDS -lt $end ]; do
        [ "$(ls "$RAW"/*.eml 2>/dev/null | wc -l)" -ge "$want" ] && return
        sleep 2
    done
    echo "only $(ls "$RAW"/*.eml 2>/dev/null | wc -l) of $want DSNs arrived" >&2
}

# ...and until the greylisted touch has failed for good (queue expiry), not only been delayed
wait_expiry() {
    local mta=$1 end=$((SECONDS + WAIT))
    while [ $SECONDS -lt $end ]; do
        grep -l "touch\.$mta\.grey@" "$RAW"/*.eml 2>/dev/null | xargs -r grep -qiE "^Action: failed|Envelope expired" && return
        sleep 2
    done
    echo "$mta: no expiry DSN for the greylisted touch within ${WAIT}s" >&2
}

collect() { "$PY" "$HERE/make/send.py" collect "$1" "$RAW" "$HERE"; }

run_postfix() {
    apt-get install -y -q --no-install-recommends postfix >/dev/null
    postfix stop 2>/dev/null || true
    postconf -e "myhostname = mx1.sender-isp.example" "mydomain = sender-isp.example" \
        "mydestination =" "relayhost = [127.0.0.1]:2526" "mynetworks = 127.0.0.0/8" \
        "inet_interfaces = loopback-only" "inet_protocols = ipv4" \
        "smtp_host_lookup = native" "disable_dns_lookups = yes" \
        "delay_warning_time = 20s" "maximal_queue_lifetime = 70s" "bounce_queue_lifetime = 70s" \
        "minimal_backoff_time = 10s" "maximal_backoff_time = 15s" "queue_run_delay = 5s" \
        "smtputf8_enable = no"
    postconf -M# smtp/inet
    postconf -M "127.0.0.1:2525/inet=127.0.0.1:2525 inet n - n - - smtpd"
    start_sink
    postfix start
    wait_port 2525
    "$PY" "$HERE/make/send.py" submit postfix 2525
    wait_expiry postfix
    # unknown, full, policy, mixed, success, variety, grey delay, grey expired
    wait_dsns 8
    postfix stop
    stop_sink
    collect postfix
    apt-get purge -y -q postfix >/dev/null
}

run_exim() {
    apt-get install -y -q --no-install-recommends exim4-daemon-light >/dev/null
    /etc/init.d/exim4 stop >/dev/null 2>&1 || true
    pkill_pidfile /run/exim4/exim.pid
    # /etc/exim4/exim4.conf, when present, replaces Debian's generated configuration.
    cat >/etc/exim4/exim4.conf <<'CONF'
primary_hostname = mx2.sender-isp.example
daemon_smtp_ports = 2525
local_interfaces = 127.0.0.1
hostlist relay_from_hosts = 127.0.0.1
acl_smtp_rcpt = acl_check_rcpt
delay_warning = 20s:1h
dsn_advertise_hosts = *
begin acl
acl_check_rcpt:
  accept hosts = +relay_from_hosts
  deny
begin routers
smarthost:
  driver = manualroute
  transport = remote_smtp
  route_list = * 127.0.0.1::2526
  self = send
begin transports
remote_smtp:
  driver = smtp
  allow_localhost
begin retry
*   *   F,70s,10s
CONF
    start_sink
    exim4 -bd -q10s -oP "$RAW/exim.pid"   # the daemon detaches; its pid file says who to stop
    wait_port 2525
    "$PY" "$HERE/make/send.py" submit exim 2525
    wait_expiry exim
    wait_dsns 8
    pkill_pidfile "$RAW/exim.pid"
    stop_sink
    collect exim
    rm -f /etc/exim4/exim4.conf
    apt-get purge -y -q exim4-daemon-light exim4-base exim4-config >/dev/null
}

run_opensmtpd() {
    apt-get install -y -q --no-install-recommends opensmtpd >/dev/null
    /etc/init.d/opensmtpd stop >/dev/null 2>&1 || true
    local conf; conf="$(mktemp)"
    cat >"$conf" <<'CONF'
listen on 127.0.0.1 port 2525 hostname mx3.sender-isp.example
bounce warn-interval 20s
queue ttl 70s
action "relay" relay host smtp://127.0.0.1:2526
match from local for any action "relay"
match from src 127.0.0.1 for any action "relay"
CONF
    start_sink
    smtpd -d -f "$conf" >"$RAW/smtpd.log" 2>&1 &
    MTA_PID=$!
    wait_port 2525
    "$PY" "$HERE/make/send.py" submit opensmtpd 2525
    wait_expiry opensmtpd
    # its back-off is minutes long: ask for retries so warnings and expiry come in time
    ( for _ in $(seq $((WAIT / 5))); do smtpctl schedule all >/dev/null 2>&1 || true; sleep 5; done ) &
    local poke=$!
    wait_dsns 8
    kill "$poke" 2>/dev/null || true
    stop_mta
    stop_sink
    collect opensmtpd
    apt-get purge -y -q opensmtpd >/dev/null
}

run_sendmail() {
    apt-get install -y -q --no-install-recommends sendmail-bin sendmail-cf m4 >/dev/null
    /etc/init.d/sendmail stop >/dev/null 2>&1 || true
    local dir; dir="$(mktemp -d)"
    cat >"$dir/sample.mc" <<'CONF'
include(`/usr/share/sendmail/cf/m4/cf.m4')dnl
VERSIONID(`sequencer bounce samples')dnl
OSTYPE(`debian')dnl
define(`confDOMAIN_NAME', `mx4.sender-isp.example')dnl
define(`SMART_HOST', `esmtp:[127.0.0.1]')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h 2526')dnl
define(`RELAY_MAILER_ARGS', `TCP $h 2526')dnl
define(`confTO_QUEUEWARN', `20s')dnl
define(`confTO_QUEUERETURN', `70s')dnl
define(`confMIN_QUEUE_AGE', `0')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`accept_unqualified_senders')dnl
DAEMON_OPTIONS(`Port=2525, Addr=127.0.0.1, Name=MTA')dnl
MAILER(`local')dnl
MAILER(`smtp')dnl
CONF
    # a private queue owned by us: the Debian queue belongs to smmta
    mkdir -p "$dir/mqueue" && chmod 700 "$dir/mqueue"
    sed -i "s|^MAILER(\`local')|define(\`QUEUE_DIR', \`$dir/mqueue')dnl\nMAILER(\`local')|" "$dir/sample.mc"
    m4 "$dir/sample.mc" >"$dir/sendmail.cf"
    start_sink
    sendmail -C "$dir/sendmail.cf" -bD -q10s >"$RAW/sendmail.log" 2>&1 &
    MTA_PID=$!
    wait_port 2525
    "$PY" "$HERE/make/send.py" submit sendmail 2525
    wait_expiry sendmail
    wait_dsns 8
    stop_mta
    stop_sink
    collect sendmail
    apt-get purge -y -q sendmail-bin sendmail-cf sendmail-base >/dev/null || true
}

pkill_pidfile() { [ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null || true; }

for mta in "${MTAS[@]}"; do "run_$mta"; done
