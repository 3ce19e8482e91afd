#!/usr/bin/env bash
# Quick start, part 1: set everything up, then compose and deliver the sample day's digest on
# the embedded defaults (SQLite file digest.db, outbox transport, files under outbox/).
source "$(dirname "$0")/scripts/bootstrap.sh"
DAY=2026-11-26
set +e
digest ingest samples/
status=$?
set -e
# Exit code 1 from ingest means some file was refused (it says which); the rest went in.
[ "$status" -le 1 ] || exit "$status"
digest compose --date "$DAY"
digest preview --date "$DAY"
