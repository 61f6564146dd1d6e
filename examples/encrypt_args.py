#!/usr/bin/env python3
"""Encrypt AsyncTask method_args from Python: envelope version 1, AES-256-GCM.

This is the reference for producers in other languages (see the README's "Encrypted arguments" section).
It needs the `cryptography` package (Debian: python3-cryptography; PyPI: cryptography).

As a library:

    from encrypt_args import encrypt_args
    method_args, encryptor = encrypt_args(key, "k2", "OrderClient", "fulfill", {"order_number": 7})
    cur.execute(
        "INSERT INTO async_task_attempts (target, method_name, method_args, encryptor)"
        " VALUES (%s, %s, %s::jsonb, %s)",
        ("OrderClient", "fulfill", method_args, encryptor))

From the shell (the key is read from an environment variable, never from the command line):

    ASYNCTASK_KEY=$(asynctask keys generate) \\
      python3 examples/encrypt_args.py --kid k2 --target OrderClient --method fulfill '{"order_number": 7}'

prints the envelope (the method_args value) on stdout; the row's encryptor column is "aes-256-gcm:<kid>".
"""

import argparse
import base64
import json
import os
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = 1
ALGORITHM = "aes-256-gcm"


def additional_data(target: str, method: str) -> bytes:
    """Binds the envelope to its row: b"asynctask:v1" NUL target NUL method_name (UTF-8)."""
    return b"asynctask:v1\x00" + target.encode("utf-8") + b"\x00" + method.encode("utf-8")


def encrypt_args(key: bytes, kid: str, target: str, method: str, args: dict) -> tuple[str, str]:
    """Returns (method_args JSON text, encryptor column value) for one attempt row."""
    if len(key) != 32:
        raise ValueError("the key must be 32 bytes (AES-256)")
    if not isinstance(args, dict):
        raise ValueError("method_args must be a JSON object")
    plaintext = json.dumps(args, separators=(",", ":")).encode("utf-8")
    nonce = os.urandom(12)  # 96-bit random nonce, never reused with the same key
    ct_and_tag = AESGCM(key).encrypt(nonce, plaintext, additional_data(target, method))  # ciphertext || 16-byte tag
    envelope = {
        "v": VERSION,
        "alg": ALGORITHM,
        "kid": kid,
        "nonce": base64.b64encode(nonce).decode("ascii"),
        "ct": base64.b64encode(ct_and_tag).decode("ascii"),
    }
    return json.dumps(envelope, separators=(",", ":")), f"{ALGORITHM}:{kid}"


def main() -> int:
    parser = argparse.ArgumentParser(description="Print an AsyncTask method_args envelope (AES-256-GCM, v1).")
    parser.add_argument("--kid", required=True, help="key id, as in the workers' encryption.keys")
    parser.add_argument("--target", required=True, help="the row's target, e.g. OrderClient")
    parser.add_argument("--method", required=True, help="the row's method_name, e.g. fulfill")
    parser.add_argument("--key-env", default="ASYNCTASK_KEY", help="environment variable holding the base64 key")
    parser.add_argument("args", help="the arguments as a JSON object")
    options = parser.parse_args()
    encoded = os.environ.get(options.key_env)
    if not encoded:
        print(f"error: set {options.key_env} to the base64 of a 32-byte key", file=sys.stderr)
        return 2
    try:
        key = base64.b64decode(encoded, validate=True)
        method_args, _ = encrypt_args(key, options.kid, options.target, options.method, json.loads(options.args))
    except ValueError as error:  # binascii.Error and json.JSONDecodeError are ValueErrors
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(method_args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
