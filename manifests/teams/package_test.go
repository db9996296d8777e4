package teams_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/manifests/teams"
)

const appID = "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"

func decodePNG(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	return img
}

func TestIcons(t *testing.T) {
	colorPNG, err := os.ReadFile("color.png")
	if err != nil {
		t.Fatal(err)
	}
	outlinePNG, err := os.ReadFile("outline.png")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("Color192", func(t *testing.T) {
		img := decodePNG(t, colorPNG)
		if b := img.Bounds(); b.Dx() != 192 || b.Dy() != 192 {
			t.Errorf("color.png is %dx%d, want 192x192", b.Dx(), b.Dy())
		}
	})

	t.Run("OutlineWhiteOnTransparent", func(t *testing.T) {
		img := decodePNG(t, outlinePNG)
		if b := img.Bounds(); b.Dx() != 32 || b.Dy() != 32 {
			t.Fatalf("outline.png is %dx%d, want 32x32", b.Dx(), b.Dy())
		}
		nrgba, ok := img.(*image.NRGBA)
		if !ok {
			t.Fatalf("outline.png decodes as %T, want non-premultiplied RGBA with alpha", img)
		}
		transparent, drawn := 0, 0
		for y := range 32 {
			for x := range 32 {
				c := nrgba.NRGBAAt(x, y)
				switch {
				case c.A == 0:
					transparent++
				case c.R == 255 && c.G == 255 && c.B == 255:
					drawn++
				default:
					t.Fatalf("pixel (%d,%d) = %v: only white and transparent are allowed", x, y, c)
				}
			}
		}
		if transparent < 32*32/4 || drawn == 0 {
			t.Errorf("%d transparent and %d white pixels: want a transparent background and a white drawing", transparent, drawn)
		}
	})
}

func readZip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("open zip: %v", err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = data
	}
	return files
}

type manifest struct {
	Schema          string `json:"$schema"`
	ManifestVersion string `json:"manifestVersion"`
	Version         string `json:"version"`
	ID              string `json:"id"`
	Developer       struct {
		Name, WebsiteURL, PrivacyURL, TermsOfUseURL string
	} `json:"developer"`
	Name        struct{ Short, Full string }    `json:"name"`
	Description struct{ Short, Full string }    `json:"description"`
	Icons       struct{ Color, Outline string } `json:"icons"`
	AccentColor string                          `json:"accentColor"`
	Bots        []struct {
		BotID        string   `json:"botId"`
		Scopes       []string `json:"scopes"`
		CommandLists []struct {
			Scopes   []string `json:"scopes"`
			Commands []struct {
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"commands"`
		} `json:"commandLists"`
	} `json:"bots"`
}

func TestPackage(t *testing.T) {
	zipped, err := teams.Package(appID)
	if err != nil {
		t.Fatalf("Package: %v", err)
	}
	files := readZip(t, zipped)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"color.png", "manifest.json", "outline.png"}, names); diff != "" {
		t.Fatalf("zip entries (-want +got):\n%s", diff)
	}
	for _, icon := range []string{"color.png", "outline.png"} {
		want, _ := os.ReadFile(icon)
		if !bytes.Equal(files[icon], want) {
			t.Errorf("%s in the zip differs from the committed file", icon)
		}
	}
	raw := files["manifest.json"]
	if bytes.Contains(raw, []byte("{{")) {
		t.Errorf("placeholder left in manifest: %s", raw)
	}
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	id := strings.ToLower(appID)
	if m.ID != id || len(m.Bots) != 1 || m.Bots[0].BotID != id {
		t.Errorf("ids: app %q, bots %+v; want %q", m.ID, m.Bots, id)
	}
	if !strings.HasSuffix(m.Schema, "/v"+m.ManifestVersion+"/MicrosoftTeams.schema.json") ||
		!strings.HasPrefix(m.Schema, "https://developer.microsoft.com/json-schemas/teams/") {
		t.Errorf("$schema %q does not match manifestVersion %q", m.Schema, m.ManifestVersion)
	}
	if m.Icons.Color != "color.png" || m.Icons.Outline != "outline.png" {
		t.Errorf("icons %+v", m.Icons)
	}
	if !regexp.MustCompile(`^#[0-9A-Fa-f]{6}$`).MatchString(m.AccentColor) {
		t.Errorf("accentColor %q", m.AccentColor)
	}
	if len(m.Name.Short) > 30 || len(m.Name.Full) > 100 || len(m.Description.Short) > 80 || len(m.Description.Full) > 4000 || len(m.Developer.Name) > 32 {
		t.Errorf("a name or description is over its length limit: %+v %+v", m.Name, m.Description)
	}
	for _, u := range []string{m.Developer.WebsiteURL, m.Developer.PrivacyURL, m.Developer.TermsOfUseURL} {
		if !strings.HasPrefix(u, "https://") {
			t.Errorf("developer URL %q is not https", u)
		}
	}
	bot := m.Bots[0]
	if diff := cmp.Diff([]string{"team", "groupChat", "personal"}, bot.Scopes); diff != "" {
		t.Errorf("bot scopes (-want +got):\n%s", diff)
	}
	var titles []string
	for _, l := range bot.CommandLists {
		for _, c := range l.Commands {
			titles = append(titles, c.Title)
			if len(c.Title) > 32 || len(c.Description) > 128 || c.Description == "" {
				t.Errorf("command %q: title or description out of limits", c.Title)
			}
		}
	}
	want := []string{"status", "reset", "reset-bulk", "revoke-group", "enforce", "nudge", "summary", "pending", "help"}
	if diff := cmp.Diff(want, titles); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}

	again, _ := teams.Package(appID)
	if !bytes.Equal(zipped, again) {
		t.Error("Package is not deterministic")
	}
}

func TestPackageRefusesBadAppID(t *testing.T) {
	for _, id := range []string{"", "mfabot", teams.AppIDPlaceholder, `0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0","x":"`, "0f1e2d3c4b5a69788796a5b4c3d2e1f0"} {
		t.Run(id, func(t *testing.T) {
			if _, err := teams.Package(id); err == nil {
				t.Errorf("Package(%q) succeeded", id)
			}
		})
	}
}
