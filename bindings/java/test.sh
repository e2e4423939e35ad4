#!/usr/bin/env bash
# The Java package's checks, offline (bindings/java/setup.sh resolved everything):
#  1. mvn install: compile, the JUnit 5 suite under Surefire (real redis-server processes
#     on free loopback ports; the golden vectors of tests/golden; the value-matrix
#     participant), package and install io.stratacache:stratacache into the local repository;
#  2. a fresh Maven project (consumer/) that depends on the installed artifact, built and run;
#  3. the runtime classpath that bindings/java/matrix.sh runs the matrix participant with.
# The library comes from $STRATACACHE_LIB (scripts/test.sh sets it to the installed one),
# else from jna.library.path / the system.
set -euo pipefail
cd "$(dirname "$0")"
mvn -o -B --no-transfer-progress install
mvn -o -B -q -f consumer/pom.xml package
mvn -o -B -q -f consumer/pom.xml dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
java -cp "consumer/target/classes:$(cat consumer/target/classpath.txt)" example.Consumer
mvn -o -B -q dependency:build-classpath -Dmdep.includeScope=runtime -Dmdep.outputFile=target/runtime-classpath.txt
echo "java: matrix participant ready (bindings/java/matrix.sh)"
