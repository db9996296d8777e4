package teams

import (
	"archive/zip"
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/mfabot/mfabot/approvals"
)

// AppIDPlaceholder stands for the bot's Microsoft App ID in manifest.json, both as the
// app id and as the bot id.
const AppIDPlaceholder = "{{MFABOT_TEAMS_APP_ID}}"

//go:embed manifest.json color.png outline.png
var files embed.FS

// zipTime is the modification time of every file in the package, so that the same app
// id always gives the same bytes.
var zipTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Manifest returns manifest.json with appID (a GUID: the Microsoft App ID of the Azure Bot)
// filled in.
func Manifest(appID string) ([]byte, error) {
	if !approvals.IsObjectID(appID) {
		return nil, fmt.Errorf("teams app id %q is not a GUID", appID)
	}
	tmpl, err := files.ReadFile("manifest.json")
	if err != nil {
		return nil, fmt.Errorf("read manifest template: %w", err)
	}
	out := strings.ReplaceAll(string(tmpl), AppIDPlaceholder, strings.ToLower(appID))
	if !json.Valid([]byte(out)) {
		return nil, fmt.Errorf("manifest.json is not valid JSON")
	}
	return []byte(out), nil
}

// Package returns the app package to upload to Teams (Teams admin center, or "Upload a
// custom app"): a zip with manifest.json, color.png and outline.png at its root.
func Package(appID string) ([]byte, error) {
	manifest, err := Manifest(appID)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, name := range []string{"manifest.json", "color.png", "outline.png"} {
		data := manifest
		if name != "manifest.json" {
			if data, err = files.ReadFile(name); err != nil {
				return nil, fmt.Errorf("read %s: %w", name, err)
			}
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: zipTime})
		if err != nil {
			return nil, fmt.Errorf("zip %s: %w", name, err)
		}
		if _, err := w.Write(data); err != nil {
			return nil, fmt.Errorf("zip %s: %w", name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("close app package: %w", err)
	}
	return buf.Bytes(), nil
}
