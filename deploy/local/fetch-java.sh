#!/usr/bin/env bash
# Fetches Kafka (jars + runtime deps) and Elasticsearch (integ-test zip) from
# Maven Central into the cache, once per version.
# Why: these are the only registries this workplace reaches; Maven resolves the
# exact runtime classpath so we start the real broker with plain `java -cp`.
source "$(dirname "$0")/lib.sh"
command -v mvn >/dev/null || apt_need maven mvn
M2="$CACHE/m2"
what="${1:-all}"

fetch_kafka() {
  local dir="$CACHE/kafka-$KAFKA_VERSION"
  [ -f "$dir/.complete" ] && return 0
  say "fetching Kafka $KAFKA_VERSION and its runtime dependencies from Maven Central"
  mkdir -p "$dir/libs"
  cat > "$dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>vnbridge.local</groupId><artifactId>kafka-runtime</artifactId><version>1</version>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka-tools</artifactId><version>$KAFKA_VERSION</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
  </dependencies>
</project>
POM
  mvn -B -q -f "$dir/pom.xml" -Dmaven.repo.local="$M2" dependency:copy-dependencies \
      -DincludeScope=runtime -DoutputDirectory="$dir/libs" >"$dir/fetch.log" 2>&1 \
    || { tail -n 20 "$dir/fetch.log" >&2; die "Kafka download failed (log: $dir/fetch.log); check Maven Central access"; }
  touch "$dir/.complete"
}

fetch_es() {
  local dir="$CACHE/elasticsearch-$ES_VERSION"
  [ -f "$dir/.complete" ] && return 0
  say "fetching Elasticsearch $ES_VERSION (integ-test-zip) from Maven Central"
  mkdir -p "$dir"
  mvn -B -q -Dmaven.repo.local="$M2" dependency:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
      -DoutputDirectory="$dir" >"$dir/fetch.log" 2>&1 \
    || { tail -n 20 "$dir/fetch.log" >&2; die "Elasticsearch download failed (log: $dir/fetch.log)"; }
  (cd "$dir" && unzip -q -o "elasticsearch-$ES_VERSION.zip" && rm -f "elasticsearch-$ES_VERSION.zip") \
    || die "could not unpack the Elasticsearch zip in $dir (is unzip installed?)"
  touch "$dir/.complete"
}

case "$what" in
  kafka) fetch_kafka ;;
  es) fetch_es ;;
  all) fetch_kafka; fetch_es ;;
  *) die "usage: fetch-java.sh [kafka|es|all]" ;;
esac
