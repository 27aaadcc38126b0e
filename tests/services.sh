#!/usr/bin/env bash
# Install and start the local services the test suite talks to, if they are missing or not running.
# The MQTT tests start a Mosquitto of their own (with the dynamic-security plugin, which the
# machine's broker on 1883 does not load): they need its programs, installed here if absent.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_for() {
  local port=$1 name=$2
  for _ in $(seq 1 60); do
    port_open "$port" && return 0
    sleep 0.5
  done
  echo "$name did not come up on port $port" >&2
  return 1
}

if ! port_open 5432; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
  wait_for 5432 PostgreSQL
fi

if ! command -v mosquitto >/dev/null || ! command -v mosquitto_ctrl >/dev/null || ! command -v mosquitto_pub >/dev/null \
    || ! ls /usr/lib/*/mosquitto_dynamic_security.so >/dev/null 2>&1; then
  echo "installing Mosquitto"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
fi

if ! port_open 1883; then
  echo "starting Mosquitto"
  mosquitto -d -c /etc/mosquitto/mosquitto.conf
  wait_for 1883 Mosquitto
fi

# The browser tests drive Debian's Chromium (never a browser downloaded by Playwright);
# a CJK font lets its screenshots show Chinese rather than empty boxes.
if [ ! -x /usr/lib/chromium/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "installing chromium and a Chinese font for the browser tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null \
    || { apt-get update -qq && apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null; }
fi
