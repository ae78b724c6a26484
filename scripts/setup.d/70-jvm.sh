#!/usr/bin/env bash
# JVM (bindings/kotlin): Java 17 and Maven (Debian's packages, when missing), and every Maven
# artifact the package's build and tests use, resolved from Maven Central into ~/.m2 once per
# version of the pom (a stamp file records it), so tests/suites/70-jvm.sh builds offline
# (`mvn -o`). A fast no-op when the stamp is current.
set -euo pipefail
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo/bindings/kotlin"

if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
  echo "setup(jvm): installing maven and a JDK (Debian packages)"
  SUDO=
  [[ $(id -u) -eq 0 ]] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    maven openjdk-17-jdk-headless >/dev/null
fi

m2=${IDPKIT_M2_REPO:-$HOME/.m2/repository}
stamp="$m2/.idpkit-jvm-$(cat pom.xml "$self" | sha256sum | cut -c1-16)"
if [[ -e $stamp ]]; then
  exit 0
fi
echo "setup(jvm): resolving the Maven build's plugins and dependencies into $m2 (once per pom)"
start=$(date +%s)
before=$(du -sm "$m2" 2>/dev/null | cut -f1 || echo 0)
# A build without tests resolves the plugins with their own dependencies (the Kotlin
# compiler and its serialization plugin), which dependency:go-offline leaves out.
mvn -B -q -Dmaven.repo.local="$m2" -DskipTests package
# What only running the tests would fetch: surefire's JUnit Platform provider and launcher.
surefire=$(grep -A1 '<artifactId>maven-surefire-plugin</artifactId>' pom.xml | sed -n 's|.*<version>\(.*\)</version>.*|\1|p')
dependency=$(grep -A1 '<artifactId>maven-dependency-plugin</artifactId>' pom.xml | sed -n 's|.*<version>\(.*\)</version>.*|\1|p')
for artifact in \
  "org.apache.maven.surefire:surefire-junit-platform:$surefire" \
  "org.junit.platform:junit-platform-launcher:1.14.4"; do
  mvn -B -q -Dmaven.repo.local="$m2" \
    "org.apache.maven.plugins:maven-dependency-plugin:$dependency:get" -Dartifact="$artifact"
done
after=$(du -sm "$m2" | cut -f1)
echo "setup(jvm): resolved in $(( $(date +%s) - start ))s, ~/.m2 grew by $(( after - before )) MB"
touch "$stamp"
