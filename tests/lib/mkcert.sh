#!/bin/sh
# tests/lib/mkcert.sh DIR: a self-signed certificate for 127.0.0.1 and
# localhost in DIR/cert.pem and DIR/key.pem (what the TLS tests serve and trust).
set -eu
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$1/key.pem" -out "$1/cert.pem" >/dev/null 2>&1
