package slack_test

import (
	"os"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/mfabot/mfabot/bot/slack"
)

type manifest struct {
	Features struct {
		SlashCommands []struct {
			Command      string `yaml:"command"`
			URL          string `yaml:"url"`
			ShouldEscape bool   `yaml:"should_escape"`
		} `yaml:"slash_commands"`
		AppHome struct {
			Messages bool `yaml:"messages_tab_enabled"`
		} `yaml:"app_home"`
	} `yaml:"features"`
	OAuth struct {
		Scopes struct {
			Bot []string `yaml:"bot"`
		} `yaml:"scopes"`
	} `yaml:"oauth_config"`
	Settings struct {
		Interactivity struct {
			Enabled    bool   `yaml:"is_enabled"`
			RequestURL string `yaml:"request_url"`
		} `yaml:"interactivity"`
		SocketMode    bool `yaml:"socket_mode_enabled"`
		TokenRotation bool `yaml:"token_rotation_enabled"`
	} `yaml:"settings"`
}

func TestManifests(t *testing.T) {
	for file, socket := range map[string]bool{"manifest.yaml": false, "manifest.socket-mode.yaml": true} {
		t.Run(file, func(t *testing.T) {
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var m manifest
			if err := yaml.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			if len(m.Features.SlashCommands) != 1 || m.Features.SlashCommands[0].Command != slack.SlashCommand {
				t.Fatalf("slash commands = %+v", m.Features.SlashCommands)
			}
			if !m.Settings.Interactivity.Enabled || m.Settings.SocketMode != socket {
				t.Fatalf("settings = %+v", m.Settings)
			}
			if !socket && (m.Features.SlashCommands[0].URL != "https://YOUR-HOST"+slack.CommandsPath || m.Settings.Interactivity.RequestURL != "https://YOUR-HOST"+slack.InteractionsPath) {
				t.Fatalf("URLs do not point at mfabot's endpoints: %+v", m)
			}
			if socket && (m.Features.SlashCommands[0].URL != "" || m.Settings.Interactivity.RequestURL != "") {
				t.Fatalf("the Socket Mode manifest names URLs: %+v", m)
			}
			// The adapter hands the text after /mfa to the parser as typed: escaped
			// mentions and mailto links would not parse as a user.
			if m.Features.SlashCommands[0].ShouldEscape {
				t.Fatal("should_escape is on")
			}
			// Rotating tokens expire after 12 hours; the adapter has no refresh flow.
			if m.Settings.TokenRotation {
				t.Fatal("token rotation is on")
			}
			if !m.Features.AppHome.Messages {
				t.Fatal("the Messages tab is off: direct messages from mfabot would have nowhere to show")
			}
			got, want := slices.Sorted(slices.Values(m.OAuth.Scopes.Bot)), slices.Sorted(slices.Values(slack.RequiredScopes()))
			if !slices.Equal(got, want) {
				t.Fatalf("scopes = %v, the adapter needs %v", got, want)
			}
		})
	}
}
