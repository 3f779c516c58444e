#!/usr/bin/env bash
# The local real stack: Kafka (KRaft), Elasticsearch, Prometheus, etcd and
# kube-apiserver on 127.0.0.1 with free ports, data under .stack/.
# Why: vnbridge is proven against the real services and this machine has no
# Docker engine; everything comes from the package registries and is cached
# outside the clone (see lib.sh), so a warm `up` takes seconds.
#
#   stack.sh up       start every service not yet running, write .stack/env
#   stack.sh up elasticsearch-secure   also the security-on Elasticsearch (HTTPS, users)
#   stack.sh up kafka-cluster          also a 3-broker KRaft Kafka (replication 3, min ISR 2)
#                                      for make chaos; its nodes are kafka-c1..kafka-c3
#                                      (stack.sh stop kafka-c2; stack.sh up kafka-cluster)
#   stack.sh status   one line per service
#   stack.sh down     stop exactly the processes whose pid files we wrote
source "$(dirname "$0")/lib.sh"
SERVICES=(etcd kube-apiserver kafka elasticsearch prometheus)
# started only when named (`stack.sh up elasticsearch-secure`): the tests of TLS + auth
OPTIONAL=(elasticsearch-secure kafka-cluster)
CLUSTER_NODES=(1 2 3)
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
running() {
  if [ "$1" = kafka-cluster ]; then
    local n; for n in "${CLUSTER_NODES[@]}"; do pid_of "kafka-c$n" >/dev/null || return 1; done; return 0
  fi
  pid_of "$1" >/dev/null
}
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

stack_pki() { # stack_pki NAME: .stack/pki/NAME.{crt,key} for 127.0.0.1/localhost, signed by the stack CA
  local d="$STACK/pki" n="$1"
  mkdir -p "$d"
  [ -f "$d/ca.crt" ] || (
    cd "$d" && openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=vnbridge-stack-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null && chmod 600 ca.key
  ) || die "pki: making the stack CA with openssl failed"
  [ -f "$d/$n.crt" ] && return 0
  (
    cd "$d" && openssl req -newkey rsa:2048 -nodes -subj "/CN=$n" -keyout "$n.key" -out "$n.csr" 2>/dev/null \
      && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$n.ext" \
      && openssl x509 -req -in "$n.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
        -extfile "$n.ext" -out "$n.crt" 2>/dev/null && chmod 600 "$n.key" && rm -f "$n.csr" "$n.ext"
  ) || die "pki: making the $n certificate with openssl failed"
}

secret() { # secret FILE: a random password kept in FILE (made once, mode 600)
  [ -s "$1" ] || { python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$1"; chmod 600 "$1"; }
  cat "$1"
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

# kafka_storage_props DIR PARTITIONS REPLICATION MIN_ISR: the log, topic and internal-topic
# properties a broker of the single-node and of the 3-node cluster share
kafka_storage_props() {
  cat <<PROPS
log.dirs=$1/data
num.partitions=$2
default.replication.factor=$3
min.insync.replicas=$4
offsets.topic.replication.factor=$3
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=$3
transaction.state.log.min.isr=$4
transaction.state.log.num.partitions=4
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
log.retention.hours=24
PROPS
}

kafka_log4j() { # kafka_log4j FILE: warnings, and the broker's start-up lines
  cat >"$1" <<'L4J'
log4j.rootLogger=WARN, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.server.KafkaServer=INFO
log4j.logger.kafka.server.BrokerServer=INFO
L4J
}

start_kafka() {
  bash "$ROOT/deploy/local/fetch-java.sh" kafka
  local java d port ctl sport
  java=$(java_bin)
  d="$STACK/kafka"; mkdir -p "$d"
  port=$(alloc_port kafka port); ctl=$(alloc_port kafka controller_port); sport=$(alloc_port kafka sasl_ssl_port)
  check_port_free kafka "$port"; check_port_free kafka "$ctl"; check_port_free kafka "$sport"
  # the SASL_SSL listener (SCRAM users, a certificate from the stack CA) is what the
  # TLS + auth tests use; PLAINTEXT stays for everything else
  stack_pki kafka
  cat "$STACK/pki/kafka.key" "$STACK/pki/kafka.crt" >"$d/kafka-keystore.pem"; chmod 600 "$d/kafka-keystore.pem"
  secret "$d/scram.password" >/dev/null
  cat >"$d/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$ctl
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctl,SASL_SSL://127.0.0.1:$sport
advertised.listeners=PLAINTEXT://127.0.0.1:$port,SASL_SSL://127.0.0.1:$sport
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.ssl.keystore.type=PEM
listener.name.sasl_ssl.ssl.keystore.location=$d/kafka-keystore.pem
PROPS
  kafka_storage_props "$d" 4 1 1 >>"$d/server.properties"
  kafka_log4j "$d/log4j.properties"
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
  # the SCRAM user (both mechanisms), stored in the cluster metadata; idempotent
  # (one mechanism per request: KRaft refuses two changes of one user in a request)
  local pw mech; pw=$(cat "$d/scram.password")
  for mech in SCRAM-SHA-256 SCRAM-SHA-512; do
    "$java" -Xmx128m "-Dlog4j.configuration=file:$d/log4j.properties" -cp "$cp" kafka.admin.ConfigCommand \
      --bootstrap-server "127.0.0.1:$port" --alter --entity-type users --entity-name vnbridge \
      --add-config "$mech=[password=$pw]" >"$d/scram.log" 2>&1 \
      || { tail -n 5 "$d/scram.log" >&2; die "kafka: adding the $mech user failed"; }
  done
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

es_node() { # es_node NAME SECURE(0|1): one single-node Elasticsearch under .stack/NAME
  bash "$ROOT/deploy/local/fetch-java.sh" es
  local name="$1" secure="$2" java home d port tport
  java=$(java_bin); home="$CACHE/elasticsearch-$ES_VERSION/elasticsearch-$ES_VERSION"
  es_root_plugin "$home" "$java"
  d="$STACK/$name"; mkdir -p "$d/data" "$d/logs" "$d/config"
  port=$(alloc_port "$name" port); tport=$(alloc_port "$name" transport_port)
  check_port_free "$name" "$port"; check_port_free "$name" "$tport"
  if [ ! -f "$d/config/jvm.options" ]; then cp -r "$home/config/." "$d/config/"; fi
  mkdir -p "$d/config/jvm.options.d"
  printf -- '-Xms512m\n-Xmx512m\n' >"$d/config/jvm.options.d/vnbridge.options"
  local jhome; jhome="$(dirname "$(dirname "$java")")"
  if [ "$secure" = 1 ]; then
    # security on: HTTPS with a certificate from the stack CA, file-realm users, API keys;
    # `writer` may only write vnbridge-secure-* (least privilege), `admin` reads back
    stack_pki "$name"; mkdir -p "$d/config/certs"
    cp "$STACK/pki/ca.crt" "$STACK/pki/$name.crt" "$STACK/pki/$name.key" "$d/config/certs/"
    cat >"$d/config/elasticsearch.yml" <<YML
xpack.security.enabled: true
xpack.security.enrollment.enabled: false
xpack.security.authc.api_key.enabled: true
xpack.security.http.ssl.enabled: true
xpack.security.http.ssl.key: certs/$name.key
xpack.security.http.ssl.certificate: certs/$name.crt
xpack.security.http.ssl.certificate_authorities: [certs/ca.crt]
YML
    cat >"$d/config/roles.yml" <<'YML'
vnbridge_writer:
  cluster: [monitor, manage_own_api_key]
  indices:
    - names: ["vnbridge-secure-*"]
      privileges: [create_doc, create_index, auto_configure, view_index_metadata]
YML
    local u
    for u in admin writer; do
      ES_JAVA_HOME="$jhome" ES_PATH_CONF="$d/config" "$home/bin/elasticsearch-users" userdel "$u" >/dev/null 2>&1 || true
    done
    ES_JAVA_HOME="$jhome" ES_PATH_CONF="$d/config" "$home/bin/elasticsearch-users" useradd admin \
      -p "$(secret "$d/admin.password")" -r superuser >"$d/users.log" 2>&1 \
      && ES_JAVA_HOME="$jhome" ES_PATH_CONF="$d/config" "$home/bin/elasticsearch-users" useradd writer \
        -p "$(secret "$d/writer.password")" -r vnbridge_writer >>"$d/users.log" 2>&1 \
      || { tail -n 5 "$d/users.log" >&2; die "$name: adding the file-realm users failed"; }
  else
    # loopback-only dev node: security off (elasticsearch-secure is the one with auth)
    printf 'xpack.security.enabled: false\nxpack.security.enrollment.enabled: false\n' >"$d/config/elasticsearch.yml"
  fi
  local runas=()
  if [ "$(id -u)" = 0 ]; then # Elasticsearch refuses to run as root
    id "$ES_USER" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$ES_USER" \
      || die "$name: cannot create the unprivileged user $ES_USER (ES refuses to run as root)"
    chown -R "$ES_USER" "$d"
    runas=(setpriv --reuid "$ES_USER" --regid "$(id -g "$ES_USER")" --clear-groups)
    # the user must be able to traverse into the cache and the clone
    local p="$home"; while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
    p="$d"; while [ "$p" != / ]; do chmod o+x "$p" 2>/dev/null || true; p=$(dirname "$p"); done
  fi
  spawn "$name" "$d/$name.log" env ES_JAVA_HOME="$jhome" \
    ES_PATH_CONF="$d/config" ES_TMPDIR="$d/data" "${runas[@]}" "$home/bin/elasticsearch" \
    -E cluster.name="vnbridge-$name" -E node.name=local -E discovery.type=single-node \
    -E network.host=127.0.0.1 -E http.port="$port" -E transport.port="$tport" \
    -E path.data="$d/data" -E path.logs="$d/logs" -E cluster.routing.allocation.disk.threshold_enabled=false \
    -E action.destructive_requires_name=false -E xpack.security.autoconfiguration.enabled=false
  if [ "$secure" = 1 ]; then
    wait_for "$name" 120 "$d/$name.log" es_healthy "https://127.0.0.1:$port" \
      --cacert "$STACK/pki/ca.crt" -u "admin:$(cat "$d/admin.password")"
  else
    wait_for "$name" 120 "$d/$name.log" es_healthy "http://127.0.0.1:$port"
  fi
}

start_elasticsearch() { es_node elasticsearch 0; }
start_elasticsearch_secure() { es_node elasticsearch-secure 1; }

es_healthy() { # es_healthy URL [CURL-OPTION...]: GET /_cluster/health answers yellow or green
  local url="$1"; shift
  curl -fsS --max-time 3 "$@" "$url/_cluster/health" | grep -Eq '"status":"(yellow|green)"'
}

# A 3-node KRaft cluster (each node broker + controller) for the chaos test: topics
# replicated 3 times with min.insync.replicas 2, so one broker may die at any moment.
# Only the nodes not running are started (a node killed by the test comes back with
# its data and rejoins).
start_kafka_cluster() {
  bash "$ROOT/deploy/local/fetch-java.sh" kafka
  local java n d voters="" cp="$CACHE/kafka-$KAFKA_VERSION/libs/*" spawned=()
  java=$(java_bin)
  for n in "${CLUSTER_NODES[@]}"; do
    mkdir -p "$STACK/kafka-c$n"
    voters="$voters${voters:+,}$n@127.0.0.1:$(alloc_port "kafka-c$n" controller_port)"
    alloc_port "kafka-c$n" port >/dev/null
  done
  local jopts=(-Xms128m -Xmx512m -XX:+UseG1GC "-Dlog4j.configuration=file:$STACK/kafka-c1/log4j.properties")
  for n in "${CLUSTER_NODES[@]}"; do
    running "kafka-c$n" && continue
    d="$STACK/kafka-c$n"
    local port ctl; port=$(cat "$d/port"); ctl=$(cat "$d/controller_port")
    check_port_free "kafka-c$n" "$port"; check_port_free "kafka-c$n" "$ctl"
    cat >"$d/server.properties" <<PROPS
process.roles=broker,controller
node.id=$n
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$ctl
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
unclean.leader.election.enable=false
PROPS
    kafka_storage_props "$d" 6 3 2 >>"$d/server.properties"
    kafka_log4j "$d/log4j.properties"
    if [ ! -f "$d/data/meta.properties" ]; then
      "$java" -Xmx256m "-Dlog4j.configuration=file:$d/log4j.properties" -cp "$cp" kafka.tools.StorageTool format \
        -t "vnbridge-chaos-0000000001" -c "$d/server.properties" >"$d/format.log" 2>&1 \
        || { tail -n 20 "$d/format.log" >&2; die "kafka-c$n: formatting KRaft storage failed"; }
    fi
    spawn "kafka-c$n" "$d/kafka-c$n.log" "$java" "${jopts[@]/kafka-c1/kafka-c$n}" -cp "$cp" kafka.Kafka "$d/server.properties"
    spawned+=("$n")
  done
  # a quorum needs two voters: wait only once every node is up, each for a full cluster view
  for n in "${spawned[@]}"; do
    wait_for "kafka-c$n" 90 "$STACK/kafka-c$n/kafka-c$n.log" \
      python3 "$ROOT/deploy/local/kafka_ready.py" "127.0.0.1:$(cat "$STACK/kafka-c$n/port")" 2 3
  done
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
    echo "export KAFKA_SASL_SSL_BOOTSTRAP=127.0.0.1:$(cat "$STACK/kafka/sasl_ssl_port")"
    echo "export KAFKA_SASL_USER=vnbridge"
    echo "export KAFKA_SASL_PASSWORD=$(cat "$STACK/kafka/scram.password")"
    echo "export STACK_CA=$STACK/pki/ca.crt"
    if running elasticsearch-secure; then
      echo "export ES_SECURE_URL=https://127.0.0.1:$(cat "$STACK/elasticsearch-secure/port")"
      echo "export ES_SECURE_ADMIN_PASSWORD=$(cat "$STACK/elasticsearch-secure/admin.password")"
      echo "export ES_SECURE_WRITER_PASSWORD=$(cat "$STACK/elasticsearch-secure/writer.password")"
    fi
    if running kafka-cluster; then
      echo "export KAFKA_CLUSTER_BOOTSTRAP=$(for n in "${CLUSTER_NODES[@]}"; do printf '127.0.0.1:%s,' "$(cat "$STACK/kafka-c$n/port")"; done | sed 's/,$//')"
    fi
    echo "export ES_URL=http://127.0.0.1:$(cat "$STACK/elasticsearch/port")"
    echo "export PROM_URL=http://127.0.0.1:$(cat "$STACK/prometheus/port")"
    echo "export PROM_CONFIG=$STACK/prometheus/prometheus.yml"
    echo "export ETCD_URL=http://127.0.0.1:$(cat "$STACK/etcd/port")"
    echo "export KUBE_URL=https://127.0.0.1:$(cat "$STACK/kube-apiserver/port")"
    echo "export KUBECONFIG=$STACK/kube-apiserver/kubeconfig"
    echo "export KUBECTL=$CACHE/kubectl-$K8S_VERSION/kubectl"
    for s in "${SERVICES[@]}" "${OPTIONAL[@]}"; do
      running "$s" || [ "$s" != elasticsearch-secure ] || continue
      [ "$s" != kafka-cluster ] || continue
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
  for s in kafka-c3 kafka-c2 kafka-c1 elasticsearch-secure prometheus elasticsearch kafka kube-apiserver etcd; do
    if [ -f "$(pidfile "$s")" ]; then say "stopping $s"; stop_one "$s"; fi
  done
}

status() {
  local s rc=0
  for s in "${SERVICES[@]}"; do
    if running "$s"; then printf '%-15s up    pid %-8s port %s\n' "$s" "$(pid_of "$s")" "$(cat "$STACK/$s/port")"
    else printf '%-15s down\n' "$s"; rc=1; fi
  done
  for s in elasticsearch-secure kafka-c1 kafka-c2 kafka-c3; do
    if running "$s"; then printf '%-15s up    pid %-8s port %s\n' "$s" "$(pid_of "$s")" "$(cat "$STACK/$s/port")"; fi
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
