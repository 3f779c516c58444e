#!/usr/bin/env bash
# The local real stack: Kafka (KRaft), Elasticsearch, Prometheus, etcd and
# kube-apiserver on 127.0.0.1 with free ports, data under .stack/.
# Why: vnbridge is proven against the real services and this machine has no
# Docker engine; everything comes from the package registries and is cached
# outside the clone (see lib.sh), so a warm `up` takes seconds.
#
#   stack.sh up       start every service not yet running, write .stack/env
#   stack.sh status   one line per service
#   stack.sh down     stop exactly the processes whose pid files we wrote
source "$(dirname "$0")/lib.sh"
SERVICES=(etcd kube-apiserver kafka elasticsearch prometheus)
ES_USER="${VNBRIDGE_ES_USER:-vnbridge}"

pidfile() { echo "$STACK/$1/pid"; }
# A pid file holds "PID STARTTIME" (field 22 of /proc/PID/stat) so a pid
# reused after a reboot is never taken for ours, and never killed.
started_at() { local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; s=${s##*) }; set -- $s; echo "${20}"; }
pid_of() { # pid_of SERVICE: print the pid if the recorded process is still the one we started
  local p t now f; f=$(pidfile "$1")
  [ -f "$f" ] && read -r p t <"$f" || return 1
  [ -n "$p" ] && [ -n "$t" ] || return 1
  now=$(started_at "$p") || return 1
  [ "$now" = "$t" ] && echo "$p"
}
running() { pid_of "$1" >/dev/null; }
port_of() { cat "$STACK/$1/port" 2>/dev/null; }
alloc_port() { # alloc_port SERVICE NAME: stable per .stack so restarts keep addresses
  local f="$STACK/$1/$2"; [ -s "$f" ] || free_port >"$f"; cat "$f"
}
check_port_free() {
  if python3 -c "import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1',$2))" 2>/dev/null; then return 0; fi
  die "$1: port 127.0.0.1:$2 is in use by another process; free it or remove $STACK/$1 to pick new ports"
}
spawn() { # spawn SERVICE LOG CMD...: start detached in its own session, record pid
  local svc="$1" log="$2"; shift 2
  # the log keeps earlier runs (appended); readiness never reads it, only live probes
  echo "---- stack.sh: starting $svc at $(date -u +%FT%TZ) ----" >>"$log"
  setsid "$@" >>"$log" 2>&1 </dev/null &
  echo "$! $(started_at $!)" >"$(pidfile "$svc")"
}

start_etcd() {
  apt_need etcd-server etcd
  local d="$STACK/etcd"; mkdir -p "$d"
  local port peer; port=$(alloc_port etcd port); peer=$(alloc_port etcd peer_port)
  check_port_free etcd "$port"; check_port_free etcd "$peer"
  spawn etcd "$d/etcd.log" etcd --name vnbridge --data-dir "$d/data" \
    --listen-client-urls "http://127.0.0.1:$port" --advertise-client-urls "http://127.0.0.1:$port" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "vnbridge=http://127.0.0.1:$peer" --listen-metrics-urls "" --log-level warn
  wait_for etcd 30 "$d/etcd.log" curl -fsS --max-time 3 "http://127.0.0.1:$port/health"
}

kube_pki() {
  local d="$1"
  [ -f "$d/pki/apiserver.crt" ] && return 0
  mkdir -p "$d/pki"; (
    cd "$d/pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=vnbridge-local-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc\n' >san.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile san.ext -out apiserver.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    python3 -c 'import secrets; print(secrets.token_hex(24))' >admin.token
    printf '%s,admin,admin,system:masters\n' "$(cat admin.token)" >tokens.csv
    chmod 600 ./*.key admin.token tokens.csv
  ) || die "kube-apiserver: generating certificates with openssl failed"
}

start_kube_apiserver() {
  local bin d port etcd_port
  bin=$(bash "$ROOT/deploy/local/build-kube-apiserver.sh") || exit 1
  bash "$ROOT/deploy/local/build-kubectl.sh" >/dev/null || exit 1  # same version, kustomize v5
  d="$STACK/kube-apiserver"; mkdir -p "$d"
  port=$(alloc_port kube-apiserver port); check_port_free kube-apiserver "$port"
  etcd_port=$(port_of etcd/port 2>/dev/null || cat "$STACK/etcd/port")
  kube_pki "$d"
  spawn kube-apiserver "$d/kube-apiserver.log" "$bin" \
    --etcd-servers "http://127.0.0.1:$etcd_port" --etcd-prefix /vnbridge \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$port" \
    --tls-cert-file "$d/pki/apiserver.crt" --tls-private-key-file "$d/pki/apiserver.key" \
    --client-ca-file "$d/pki/ca.crt" --token-auth-file "$d/pki/tokens.csv" \
    --service-account-key-file "$d/pki/sa.pub" --service-account-signing-key-file "$d/pki/sa.key" \
    --service-account-issuer https://kubernetes.default.svc --api-audiences https://kubernetes.default.svc \
    --authorization-mode Node,RBAC --service-cluster-ip-range 10.96.0.0/24 \
    --disable-admission-plugins ServiceAccount --allow-privileged=false \
    --enable-priority-and-fairness=false --profiling=false --v 1
  cat >"$d/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster: {server: "https://127.0.0.1:$port", certificate-authority: "$d/pki/ca.crt"}
users:
- name: admin
  user: {token: "$(cat "$d/pki/admin.token")"}
contexts:
- name: local
  context: {cluster: local, user: admin}
current-context: local
KC
  chmod 600 "$d/kubeconfig"
  wait_for kube-apiserver 90 "$d/kube-apiserver.log" \
    curl -fsS --max-time 3 --cacert "$d/pki/ca.crt" -H "Authorization: Bearer $(cat "$d/pki/admin.token")" "https://127.0.0.1:$port/readyz"
}

start_kafka() {
  bash "$ROOT/deploy/local/fetch-java.sh" kafka
  local java d port ctl
  java=$(java_bin)
  d="$STACK/kafka"; mkdir -p "$d"
  port=$(alloc_port kafka port); ctl=$(alloc_port kafka controller_port)
  check_port_free kafka "$port"; check_port_free kafka "$ctl"
  cat >"$d/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctl
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$d/data
num.partitions=4
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=24
PROPS
  cat >"$d/log4j.properties" <<'L4J'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
L4J
  local cp="$CACHE/kafka-$KAFKA_VERSION/libs/*"
  local jopts=(-Xms256m -Xmx768m -XX:+UseG1GC "-Dlog4j.configuration=file:$d/log4j.properties")
  if [ ! -f "$d/data/meta.properties" ]; then
    "$java" "${jopts[@]}" -cp "$cp" kafka.tools.StorageTool format -t "vnbridge-local-0000000001" \
      -c "$d/server.properties" >"$d/format.log" 2>&1 \
      || { tail -n 20 "$d/format.log" >&2; die "kafka: formatting KRaft storage failed"; }
  fi
  spawn kafka "$d/kafka.log" "$java" "${jopts[@]}" -cp "$cp" kafka.Kafka "$d/server.properties"
  # live probe: a Metadata request answered by the listener (never the log: an
  # earlier run's "STARTED" line would match before this broker answers)
  wait_for kafka 60 "$d/kafka.log" python3 "$ROOT/deploy/local/kafka_ready.py" "127.0.0.1:$port"
}

es_root_plugin() { # es_root_plugin HOME JAVA: build deploy/local/es-root into HOME/plugins once (GET / answers)
  local home="$1" java="$2" dest="$1/plugins/vnbridge-root" bin tmp sum
  sum=$(cat "$ROOT"/deploy/local/es-root/src/org/vnbridge/esroot/*.java | sha1sum | cut -c1-12)
  [ -f "$dest/vnbridge-root.jar" ] && [ "$(cat "$dest/.source" 2>/dev/null)" = "$sum" ] && return 0
  rm -rf "$dest"
  bin=$(dirname "$java")
  if [ ! -x "$bin/javac" ] || [ ! -x "$bin/jar" ]; then
    say "elasticsearch: no javac next to $java; GET / will answer 405 (the integ-test-zip lacks rest-root)"
    return 0
  fi
  tmp=$(mktemp -d)
  "$bin/javac" --release 21 -nowarn -cp "$home/lib/*" -d "$tmp/classes" \
    "$ROOT"/deploy/local/es-root/src/org/vnbridge/esroot/*.java >"$tmp/javac.log" 2>&1 \
    || { say "elasticsearch: building the GET / plugin failed ($(tail -1 "$tmp/javac.log")); continuing without it"; rm -rf "$tmp"; return 0; }
  mkdir -p "$dest"
  "$bin/jar" --create --file "$dest/vnbridge-root.jar" -C "$tmp/classes" .
  printf '%s\n' "description=GET / (cluster name, version) for the integ-test-zip, which lacks rest-root" \
    "version=1.0" "name=vnbridge-root" "classname=org.vnbridge.esroot.RootPlugin" "java.version=21" \
    "elasticsearch.version=$ES_VERSION" >"$dest/plugin-descriptor.properties"
  echo "$sum" >"$dest/.source"
  rm -rf "$tmp"
}

start_elasticsearch() {
  bash "$ROOT/deploy/local/fetch-java.sh" es
  local java home d port tport
  java=$(java_bin); home="$CACHE/elasticsearch-$ES_VERSION/elasticsearch-$ES_VERSION"
  es_root_plugin "$home" "$java"
  d="$STACK/elasticsearch"; mkdir -p "$d/data" "$d/logs" "$d/config"
  port=$(alloc_port elasticsearch port); tport=$(alloc_port elasticsearch transport_port)
  check_port_free elasticsearch "$port"; check_port_free elasticsearch "$tport"
  if [ ! -f "$d/config/jvm.options" ]; then cp -r "$home/config/." "$d/config/"; fi
  mkdir -p "$d/config/jvm.options.d"
  printf -- '-Xms512m\n-Xmx512m\n' >"$d/config/jvm.options.d/vnbridge.options"
  # loopback-only dev node: security off (the sinks' auth/TLS options are for real clusters)
  printf 'xpack.security.enabled: false\nxpack.security.enrollment.enabled: false\n' >"$d/config/elasticsearch.yml"
  local runas=()
  if [ "$(id -u)" = 0 ]; then # Elasticsearch refuses to run as root
    id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER" \
      || die "elasticsearch: cannot create the unprivileged user $ES_USER (ES refuses to run as root)"
    chown -R "$ES_USER" "$d"
    runas=(setpriv --reuid "$ES_USER" --regid "$(id -g "$ES_USER")" --clear-groups)
    # the user must be able to traverse into the cache and the clone
    local p="$home"; while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    p="$d"; while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
  fi
  spawn elasticsearch "$d/elasticsearch.log" env ES_JAVA_HOME="$(dirname "$(dirname "$java")")" \
    ES_PATH_CONF="$d/config" ES_TMPDIR="$d/data" "${runas[@]}" "$home/bin/elasticsearch" \
    -E cluster.name=vnbridge-local -E node.name=local -E discovery.type=single-node \
    -E network.host=127.0.0.1 -E http.port="$port" -E transport.port="$tport" \
    -E path.data="$d/data" -E path.logs="$d/logs" -E cluster.routing.allocation.disk.threshold_enabled=false \
    -E action.destructive_requires_name=false -E xpack.security.autoconfiguration.enabled=false
  wait_for elasticsearch 120 "$d/elasticsearch.log" es_healthy "$port"
}

es_healthy() { # es_healthy PORT: GET /_cluster/health answers yellow or green
  curl -fsS --max-time 3 "http://127.0.0.1:$1/_cluster/health" | grep -Eq '"status":"(yellow|green)"'
}

start_prometheus() {
  apt_need prometheus prometheus
  local d port; d="$STACK/prometheus"; mkdir -p "$d/data" "$d/file_sd" "$d/rules"
  port=$(alloc_port prometheus port); check_port_free prometheus "$port"
  [ -f "$d/prometheus.yml" ] || cat >"$d/prometheus.yml" <<YML
global: {scrape_interval: 5s, evaluation_interval: 5s}
rule_files: ["$d/rules/*.yaml"]
scrape_configs:
- job_name: prometheus
  static_configs: [{targets: ["127.0.0.1:$port"]}]
YML
  spawn prometheus "$d/prometheus.log" prometheus --config.file "$d/prometheus.yml" \
    --storage.tsdb.path "$d/data" --web.listen-address "127.0.0.1:$port" --web.enable-lifecycle \
    --web.enable-admin-api --storage.tsdb.retention.time 1d
  wait_for prometheus 30 "$d/prometheus.log" curl -fsS --max-time 3 "http://127.0.0.1:$port/-/ready"
}

write_env() {
  local e="$STACK/env"
  {
    echo "# written by deploy/local/stack.sh; source it: . .stack/env"
    echo "export KAFKA_BOOTSTRAP=127.0.0.1:$(cat "$STACK/kafka/port")"
    echo "export ES_URL=http://127.0.0.1:$(cat "$STACK/elasticsearch/port")"
    echo "export PROM_URL=http://127.0.0.1:$(cat "$STACK/prometheus/port")"
    echo "export PROM_CONFIG=$STACK/prometheus/prometheus.yml"
    echo "export ETCD_URL=http://127.0.0.1:$(cat "$STACK/etcd/port")"
    echo "export KUBE_URL=https://127.0.0.1:$(cat "$STACK/kube-apiserver/port")"
    echo "export KUBECONFIG=$STACK/kube-apiserver/kubeconfig"
    echo "export KUBECTL=$CACHE/kubectl-$K8S_VERSION/kubectl"
    for s in "${SERVICES[@]}"; do
      local v; v=$(echo "$s" | tr 'a-z-' 'A-Z_')
      echo "export ${v}_LOG=$STACK/$s/$s.log"
    done
  } >"$e.tmp" && mv "$e.tmp" "$e"
}

up() {
  local only=("${@:-${SERVICES[@]}}") s started=()
  trap 'say "start-up failed; stopping what this run started"; for x in "${started[@]}"; do stop_one "$x"; done' ERR
  for s in "${only[@]}"; do
    if running "$s"; then say "$s already running (pid $(pid_of "$s"))"; continue; fi
    local t0=$SECONDS; say "starting $s"
    started+=("$s")
    "start_$(echo "$s" | tr - _)" || { for x in "${started[@]}"; do stop_one "$x"; done; exit 1; }
    say "$s ready in $((SECONDS - t0))s"
  done
  trap - ERR
  write_env
  say "ready; source $STACK/env"
}

stop_one() {
  local s="$1" f p; f=$(pidfile "$s")
  [ -f "$f" ] || return 0
  if p=$(pid_of "$s"); then
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$p" 2>/dev/null || true
  fi
  rm -f "$f"
}

down() {
  local s
  for s in prometheus elasticsearch kafka kube-apiserver etcd; do
    if [ -f "$(pidfile "$s")" ]; then say "stopping $s"; stop_one "$s"; fi
  done
}

status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do
    if running "$s"; then printf '%-15s up    pid %-8s port %s\n' "$s" "$(pid_of "$s")" "$(cat "$STACK/$s/port")"
    else printf '%-15s down\n' "$s"; rc=1; fi
  done
  return $rc
}

case "${1:-}" in
  up) shift; up "$@" ;;
  down) shift; if [ $# -gt 0 ]; then for s in "$@"; do stop_one "$s"; done; else down; fi ;;
  stop) shift; for s in "$@"; do stop_one "$s"; done ;;
  status) status ;;
  *) echo "usage: stack.sh up [SERVICE...] | down [SERVICE...] | status" >&2; exit 2 ;;
esac
