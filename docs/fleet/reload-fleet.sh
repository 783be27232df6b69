#!/bin/sh
# Reload every host of a fleet, one after the other, and stop at the first one
# whose server did not answer 200 (the reload client exits 1 on a rejected
# certificate, 2 when no server answered), naming it. Exit 0 when every host
# reloaded or already served the certificate.
#
#   docs/fleet/reload-fleet.sh web1.example.com web2.example.com
#
# SSH runs the reload client in the checkout on each host, with the deno binary
# at SIGNAL_SERVER_DENO (default /usr/local/bin/deno, where
# `npm install -g --prefix /usr/local deno@2.9.6` puts it: a non-interactive ssh
# session's PATH may not hold npm's global bin, and npx may fetch or hang).
: "${SIGNAL_SERVER_DIR:=/opt/signal-server}"
: "${SIGNAL_SERVER_DENO:=/usr/local/bin/deno}"
for host in "$@"; do
  if ssh -o BatchMode=yes "$host" "cd $SIGNAL_SERVER_DIR && $SIGNAL_SERVER_DENO task reload"; then
    echo "$host: ok"
  else
    status=$?
    echo "$host: reload failed (exit $status); stopping here" >&2
    exit "$status"
  fi
done
