#!/usr/bin/env bash
# Quick start, part 1: set everything up, then compose and deliver the sample day's digest on
# the embedded defaults: SQLite file digest.db, outbox transport (one .eml per subscriber under
# outbox/2026-11-26/), the sample subscribers. Safe to run again: nothing is sent twice.
source "$(dirname "$0")/scripts/bootstrap.sh"
DAY=2026-11-26
# Exit code 1 means some input was refused (each is named); the rest went in.
digest ingest samples/ || [ $? -eq 1 ]
digest subscribers import subscribers/sample.csv || [ $? -eq 1 ]
mkdir -p inbox                 # where new story documents arrive; `digest run` reads it
digest run --date "$DAY"       # ingests the inbox, composes the day if needed, sends the rest
digest preview --date "$DAY"   # the digest as an editor sees it: HTML, text and .eml
