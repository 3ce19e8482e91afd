"""The use cases: one function per thing a user does (ingest a folder, compose a day, preview
it, send it, manage a subscriber, record bounces). The CLI and the web side both call these,
and neither reaches past them into the store or the delivery engine.

One module per subject: ingest, digests (compose, preview, the editor's view, the archive),
subscribers, sending (send, status, the cron job), bounces, mail (the one-off emails), editors
(the editor accounts and their sign-in). Beside them, quick: `digest status` and `digest
subscribers list` read from a SQLite file without the store, so that they start at once.
"""
