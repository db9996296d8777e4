// Package slack holds mfabot's Slack app manifests (HTTP and Socket Mode) and checks them
// against what the Slack adapter needs. It has no code of its own, and its tests import
// only bot/slack (for the scopes the adapter uses).
package slack
