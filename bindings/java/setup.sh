#!/usr/bin/env bash
# Resolves everything the Java package's build and tests need into the local Maven
# repository, so bindings/java/test.sh runs offline (mvn -o). Idempotent: quick once
# the artifacts are there. Needs a JDK 17+ and Maven (Debian: openjdk-17-jdk-headless maven).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v mvn >/dev/null || ! command -v javac >/dev/null; then
  ../../scripts/setup.sh openjdk-17-jdk-headless maven >/dev/null
fi
mvn -B -q dependency:go-offline
# go-offline misses what plugins resolve only when they run: surefire's JUnit Platform
# provider and launcher, and the packaging/install plugins' helpers.
surefire=$(sed -n 's:.*<surefire.version>\(.*\)</surefire.version>.*:\1:p' pom.xml)
launcher=$(sed -n 's:.*<junit.platform.version>\(.*\)</junit.platform.version>.*:\1:p' pom.xml)
mvn -B -q dependency:get -Dartifact="org.apache.maven.surefire:surefire-junit-platform:$surefire"
mvn -B -q dependency:get -Dartifact="org.junit.platform:junit-platform-launcher:$launcher"
mvn -B -q install -DskipTests
