#!/bin/sh
# PostgreSQL, Redis and RabbitMQ on loopback for the scale-out tests (Airflow's CeleryExecutor,
# dagster-postgres). Each one that does not answer is started, or installed from Debian's packages
# and started; when that is not possible, one line says what to start and the exit status is 1.
# Fast when everything is up: three probes, no apt, no sleeps.
set -u

# A TCP connect, for services without a client of their own here (bash's /dev/tcp is not POSIX).
port_open() {
  if command -v nc >/dev/null 2>&1; then
    nc -z -w 1 127.0.0.1 "$1" >/dev/null 2>&1
  else
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', int(sys.argv[1])), 1).close()" "$1" \
      >/dev/null 2>&1
  fi
}

postgres_up() {
  if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h 127.0.0.1 -p 5432
  else
    port_open 5432
  fi
}

redis_up() {
  if command -v redis-cli >/dev/null 2>&1; then
    [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = PONG ]
  else
    port_open 6379
  fi
}

rabbitmq_up() { port_open 5672; }

postgres_start() {
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | tail -n 1)" main start
}

redis_start() {
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
}

rabbitmq_start() { rabbitmq-server -detached; }

# apt-get update only when the install fails on a stale package index (as the Makefile's chromium target).
install() {
  command -v apt-get >/dev/null 2>&1 || return 1
  apt-get install -y -q "$@" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q "$@" >/dev/null 2>&1; }
}

# wait_for CHECK SECONDS: poll once a second until CHECK succeeds or the time is up.
wait_for() {
  waited=0
  until "$1"; do
    [ "$waited" -ge "$2" ] && return 1
    sleep 1
    waited=$((waited + 1))
  done
}

# ensure NAME CHECK START COMMAND PACKAGE SECONDS HINT
ensure() {
  "$2" && return 0
  if ! command -v "$4" >/dev/null 2>&1; then
    install "$5" || { echo "services: $1 is not running on 127.0.0.1 and could not be installed: $7" >&2; exit 1; }
  fi
  "$3" >/dev/null 2>&1
  wait_for "$2" "$6" && return 0
  echo "services: $1 does not answer on 127.0.0.1: $7" >&2
  exit 1
}

ensure PostgreSQL postgres_up postgres_start pg_ctlcluster postgresql 15 \
  "start it with: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
ensure Redis redis_up redis_start redis-server redis-server 10 \
  "start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379"
ensure RabbitMQ rabbitmq_up rabbitmq_start rabbitmq-server rabbitmq-server 40 \
  "start it with: rabbitmq-server -detached"
