// Package delivery is what hookwarden knows about a GitHub webhook delivery,
// apart from any server or cluster: how it is signed and verified, which
// checks it must pass and in which order (docs/receiver.md), how its JSON payload is
// read, and what each handled event means (the table in events.go).
//
// It imports nothing from Kubernetes, so the receiver (webhookserver) and
// `hookwarden send` share it, and its rules are tested as plain functions.
package delivery
