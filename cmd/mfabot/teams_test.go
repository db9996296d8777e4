package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// runWith runs the mfabot command line in-process with the given environment.
func runWith(t *testing.T, vars map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, env{stdout: &out, stderr: &errOut, getenv: envOf(vars)})
	return code, out.String(), errOut.String()
}

// readZip returns the files of a zip by name.
func readZip(t *testing.T, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	defer zr.Close()
	files := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatalf("read %s from the zip: %v", f.Name, err)
		}
		files[f.Name] = b
	}
	return files
}

// TestTeamsPackage unzips what `mfabot teams package` writes: manifest.json carries the app
// id as the app's and the bot's id, and both icons it names are in the zip at Teams' sizes.
func TestTeamsPackage(t *testing.T) {
	t.Parallel()
	const appID = "0f6c1e2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{name: "OKFlag", args: []string{"--app-id", appID}},
		{name: "OKUpperCaseGUID", args: []string{"--app-id", strings.ToUpper(appID)}},
		{name: "OKFromEnvironment", vars: map[string]string{"MFABOT_TEAMS_APP_ID": appID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "mfabot-teams.zip")
			args := append([]string{"teams", "package", "--out", out}, tt.args...)
			code, stdout, stderr := runWith(t, tt.vars, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "wrote "+out) {
				t.Errorf("stdout %q does not say where the zip is", stdout)
			}
			files := readZip(t, out)
			var m struct {
				ID    string `json:"id"`
				Icons struct {
					Color   string `json:"color"`
					Outline string `json:"outline"`
				} `json:"icons"`
				Bots []struct {
					BotID string `json:"botId"`
				} `json:"bots"`
			}
			if err := json.Unmarshal(files["manifest.json"], &m); err != nil {
				t.Fatalf("manifest.json: %v", err)
			}
			if m.ID != appID || len(m.Bots) != 1 || m.Bots[0].BotID != appID {
				t.Errorf("manifest id %q, bots %+v; want %s for both", m.ID, m.Bots, appID)
			}
			if bytes.Contains(files["manifest.json"], []byte("{{")) {
				t.Errorf("manifest.json keeps a placeholder:\n%s", files["manifest.json"])
			}
			for _, icon := range []struct {
				name string
				size int
			}{{m.Icons.Color, 192}, {m.Icons.Outline, 32}} {
				data, ok := files[icon.name]
				if !ok {
					t.Errorf("the zip lacks %q, named in manifest.json", icon.name)
					continue
				}
				cfg, err := png.DecodeConfig(bytes.NewReader(data))
				if err != nil || cfg.Width != icon.size || cfg.Height != icon.size {
					t.Errorf("%s: %dx%d %v, want a %dx%d PNG", icon.name, cfg.Width, cfg.Height, err, icon.size, icon.size)
				}
			}
			if diff := cmp.Diff([]string{"color.png", "manifest.json", "outline.png"}, slices.Sorted(maps.Keys(files))); diff != "" {
				t.Errorf("zip contents (-want +got):\n%s", diff)
			}
		})
	}
}

func TestTeamsPackageRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{name: "ErrNotGUID", args: []string{"teams", "package", "--app-id", "mfabot"}, code: 1, stderr: "not a GUID"},
		{name: "ErrNoAppID", args: []string{"teams", "package"}, code: 1, stderr: "--app-id is required"},
		{name: "ErrUsageNoSubcommand", args: []string{"teams"}, code: 2, stderr: "Usage:"},
		{name: "ErrUsageUnknownSubcommand", args: []string{"teams", "zip"}, code: 2, stderr: "Usage:"},
		{name: "ErrUsageStrayArgument", args: []string{"teams", "package", "--app-id", "0f6c1e2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b", "extra"}, code: 2, stderr: "Usage:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "app.zip")
			code, _, stderr := runWith(t, nil, append(tt.args, "--out", out)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Errorf("exit %d, stderr %q; want exit %d saying %q", code, stderr, tt.code, tt.stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a refused run wrote %s", out)
			}
			if leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".mfabot-teams-*")); len(leftovers) > 0 {
				t.Errorf("temporary files left: %v", leftovers)
			}
		})
	}
}

func TestTeamsPackageCommand(t *testing.T) {
	out := filepath.Join(t.TempDir(), "app.zip")
	code, stdout, _ := runCmd(t, "teams", "package", "--app-id", "11111111-2222-3333-4444-555555555555", "--out", out)
	if code != 0 || !strings.Contains(stdout, "wrote") {
		t.Fatalf("teams package: %d %s", code, stdout)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if f.Name == "manifest.json" {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			r.Close()
			if !strings.Contains(string(b), "11111111-2222-3333-4444-555555555555") || strings.Contains(string(b), "{{") {
				t.Fatalf("manifest.json: %s", b)
			}
		}
	}
	if !slices.Equal(slices.Sorted(slices.Values(names)), []string{"color.png", "manifest.json", "outline.png"}) {
		t.Fatalf("zip holds %v", names)
	}
	if code, _, errOut := runCmd(t, "teams", "package", "--app-id", "not-a-guid", "--out", out); code != 1 || !strings.Contains(errOut, "GUID") {
		t.Fatalf("bad app id: %d %s", code, errOut)
	}
}
