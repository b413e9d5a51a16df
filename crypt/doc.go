// Package crypt holds tidelog's client-side encryption at rest: keys and
// keyrings (loading, ids, rotation), the chunked AES-256-GCM construction
// that segments embed in their own format, and a self-describing envelope
// for other objects (snapshot data files and manifests).
//
// Only the standard library's cryptography is used: AES-256-GCM, HKDF-SHA256
// and HMAC-SHA256. docs/encryption.md states the threat model and the byte
// layouts; docs/segment-format.md and docs/snapshot-format.md say where they
// sit in each object.
//
// Key material never leaves this package in printable form except through
// FormatKey, which exists for key generation: every other way a Key or a
// Keyring can be printed (fmt verbs, JSON, errors) shows key ids only.
package crypt
