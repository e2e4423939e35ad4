#!/usr/bin/env bash
# Resolves everything the Java package's build and tests need into the local Maven
# repository, so bindings/java/test.sh runs offline (mvn -o). Idempotent: quick once the
# artifacts are there. The JDK (17) and Maven are Debian packages of scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")"
mvn -B -q dependency:go-offline
# go-offline misses what plugins resolve only when they run (surefire's JUnit Platform
# provider, the jar and install plugins' helpers): run the lifecycle once with the one
# test class that needs no native library.
mvn -B -q install -Dtest=ValueCodecTest -Dsurefire.failIfNoSpecifiedTests=false
# the fresh consumer project of test.sh, which depends on the artifact just installed
mvn -B -q -f consumer/pom.xml dependency:go-offline
