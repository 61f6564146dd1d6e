#!/usr/bin/env bash
# Builds and runs every test target; expects the environment of scripts/with-postgres.sh.
set -euo pipefail
# Formatting first (seconds): the committed .swift-format, applied with `make format`.
swift format lint --strict --recursive --parallel Sources Tests Package.swift
swift build --build-tests
# The HTTP engine's timing checks (a timeout within 10% of its setting, shutdown grace) run first, alone, so the
# cluster tests' worker processes cannot delay them on a 2-core machine; then everything else in parallel; then
# the cluster-wide limit tests on their own (they time every call at the target: a target starved of CPU by other
# suites stamps calls in bunches that no limit sent); then the key-concurrency and circuit tests, which time calls the
# same way and would add their worker processes to the parallel run's load; then the chaos suite on its own (a bounded run:
# CHAOS_SECONDS, default 150 s of faults, about 3 minutes in all).
swift test --skip-build --filter CurlHTTPTests
# The parallel phase in two halves, so that half as many worker processes compete for the 2 cores: the suites
# that time outages, takeovers and heartbeats together, then everything else.
timed='ClusterTests\.(OperationsTests|OperatorFeedbackTests|WebhookClusterTests|PrefetchTests|PartitionTests|LeaseTests|DashboardOperatorTests|BehaviourTests|ClusterTests)/'
swift test --skip-build --filter "$timed"
swift test --skip-build --skip CurlHTTPTests --skip ChaosTests --skip ClusterLimitTests --skip FlowControlTests --skip "$timed"
swift test --skip-build --filter ClusterLimitTests
swift test --skip-build --filter FlowControlTests
swift test --skip-build --filter ChaosTests
# The fuzz targets, briefly (their own build in Fuzz/.build; `make fuzz` runs them longer).
FUZZ_SECONDS=${FUZZ_SECONDS:-10} scripts/fuzz.sh
scripts/check-deploy.sh
scripts/check-layers.sh
scripts/check-release.sh
