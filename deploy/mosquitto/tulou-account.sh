#!/bin/sh
# Give Tulou its account on a Mosquitto broker that runs the dynamic-security plugin.
#
# The role tulou-server may read every device's telemetry topic through the shared
# subscription Tulou uses, and send dynamic-security commands: Tulou makes, re-keys,
# disables and removes the devices' accounts itself. Run it once, on the broker's
# host, after `mosquitto_ctrl dynsec init` and a start of the broker (README.md).
#
#   MQTT_ADMIN_PASSWORD=... MQTT_TULOU_PASSWORD=... sh tulou-account.sh [host] [port]
#
# MQTT_ADMIN (default admin) is the account `dynsec init` made. Running it again
# changes nothing but the password. Use TLS options of mosquitto_ctrl
# (MOSQUITTO_CTRL_OPTIONS="--cafile ...") when the broker is not on this host.
set -eu

host=${1:-127.0.0.1}
port=${2:-1883}
: "${MQTT_ADMIN_PASSWORD:?set MQTT_ADMIN_PASSWORD to the dynamic-security admin password}"
: "${MQTT_TULOU_PASSWORD:?set MQTT_TULOU_PASSWORD to the password Tulou will use (TULOU_DEVICES__MQTT__PASSWORD)}"
telemetry='tulou/v1/devices/+/telemetry'
control='$CONTROL/dynamic-security/v1'

ctrl() {
    # shellcheck disable=SC2086 # the options are words on purpose
    mosquitto_ctrl ${MOSQUITTO_CTRL_OPTIONS:-} -h "$host" -p "$port" -u "${MQTT_ADMIN:-admin}" \
        -P "$MQTT_ADMIN_PASSWORD" dynsec "$@" 2>/dev/null
}

ctrl createRole tulou-server
ctrl addRoleACL tulou-server subscribePattern "\$share/tulou/$telemetry" allow
ctrl addRoleACL tulou-server publishClientReceive "$telemetry" allow
ctrl addRoleACL tulou-server publishClientSend "$control" allow
ctrl addRoleACL tulou-server subscribePattern "$control/response" allow
ctrl addRoleACL tulou-server publishClientReceive "$control/response" allow
ctrl createClient tulou -p "$MQTT_TULOU_PASSWORD" </dev/null
ctrl setClientPassword tulou "$MQTT_TULOU_PASSWORD"
ctrl addClientRole tulou tulou-server
ctrl getClient tulou | grep -q 'tulou-server' || { echo "tulou-account.sh: the broker did not take the account" >&2; exit 1; }
echo "Tulou's broker account: user tulou, role tulou-server"
