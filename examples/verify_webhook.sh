#!/bin/sh
# Verifies an AsyncTask webhook delivery: prints "valid" and exits 0, or prints "INVALID" and exits 1.
#   SIG='<AsyncTask-Signature header>' WEBHOOK_SECRET='<secret>' examples/verify_webhook.sh body.json
# (The raw request body, byte for byte, in the file. Also check that t is recent, to refuse replays.)
t=$(printf '%s' "$SIG" | tr ',' '\n' | sed -n 's/^t=//p')
expected=$( { printf '%s.' "$t"; cat "$1"; } | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" | sed 's/^.*= //')
if printf '%s' "$SIG" | tr ',' '\n' | grep -qx "v1=$expected"; then echo valid; else echo INVALID; exit 1; fi
