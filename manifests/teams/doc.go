// Package teams holds mfabot's Microsoft Teams app: the app manifest (manifest.json, with
// the {{MFABOT_TEAMS_APP_ID}} placeholder), its two icons, and Package, which builds the
// zip that is uploaded to Teams. The icons are drawn by gen_icons.go; the PNGs are
// committed.
//
// It imports only the standard library.
package teams

//go:generate go run gen_icons.go
