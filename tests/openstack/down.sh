#!/bin/bash
# Stops what tests/openstack/up.sh started, by PID files only. --purge also deletes state (DBs, images, configs, logs).
R=${OSRIG_DIR:-/tmp/atrium-osrig}; RUN=$R/run; DATA=$R/data; LOG=$R/log
log() { echo "[$(date +%H:%M:%S)] $*"; }
stop_pid() { # name [pidfile]
  local f=${2:-$RUN/$1.pid} p i
  [ -f "$f" ] || return 0
  p=$(head -1 "$f")
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; log "killed -9 $1 ($p)"; else log "stopped $1 ($p)"; fi
  fi
  rm -f "$f"; }
SVCS="blazar-api blazar-manager nova-api nova-compute nova-compute2 nova-scheduler nova-conductor neutron-api glance placement keystone"
for s in $SVCS; do [ -f $RUN/$s.pid ] && kill -TERM "$(cat $RUN/$s.pid)" 2>/dev/null; done  # all at once, then wait
for s in $SVCS; do stop_pid $s; done
if [ -f $DATA/rabbitmq/osrig.pid ]; then
  ERL_EPMD_PORT=4370 RABBITMQ_NODENAME=osrig@localhost rabbitmqctl -q stop $DATA/rabbitmq/osrig.pid >/dev/null 2>&1 && log "stopped rabbitmq node"
  stop_pid rabbitmq-beam $DATA/rabbitmq/osrig.pid
fi
stop_pid rabbitmq
stop_pid epmd
stop_pid mariadb
if [ -f $DATA/pg/postmaster.pid ]; then
  su postgres -c "/usr/lib/postgresql/15/bin/pg_ctl -D $DATA/pg -m fast -w stop" >/dev/null && log "stopped postgresql"
fi
if [ "${1:-}" = "--purge" ]; then
  rm -rf $DATA $R/etc $LOG $RUN; log "purged state (venv kept; rm -rf $R/venv to reinstall)"
fi
