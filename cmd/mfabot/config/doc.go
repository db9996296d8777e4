// Package config is mfabot's configuration: every setting with its YAML key and
// environment variable (the public contract README documents), loading from defaults,
// the file and the environment, and validation.
//
// The rules of the platforms' and Graph's own settings live with their adapters
// (slack.Config.Validate, teams.Config.Validate, graph.ValidateBaseURL): Validate calls
// them and names each problem by its key and variable, and adds only what mfabot as a
// whole requires (a platform, the database, the policy, the summary schedule). It is a
// package of its own so that deploy/'s tests can check the manifests against it.
//
// It imports the adapters for their Config types and rules only, never storage,
// commands or cmd/mfabot.
package config
