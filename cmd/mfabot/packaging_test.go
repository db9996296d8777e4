package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestDockerfileBuild builds the binary with the Dockerfile's ldflags and checks that
// version stamping and the configuration example work. Docker itself cannot run here;
// -trimpath is checked in the Dockerfile but left out of this build because it would
// recompile every dependency outside the build cache.
func TestDockerfileBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("testing.Short: builds the binary")
	}
	df, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`(?m)^RUN CGO_ENABLED=1 go build .*$`).FindString(string(df))
	for _, want := range []string{"-trimpath", "-X main.version=${VERSION}", "-X main.commit=${COMMIT}", "-X main.date=${DATE}", "./cmd/mfabot"} {
		if !strings.Contains(line, want) {
			t.Fatalf("the Dockerfile's build line %q lacks %q", line, want)
		}
	}
	for _, want := range []string{"USER 10001", "VOLUME /var/lib/mfabot", "ENTRYPOINT [\"mfabot\"]"} {
		if !strings.Contains(string(df), want) {
			t.Fatalf("the Dockerfile lacks %q", want)
		}
	}
	bin := binary(t)
	out, err := exec.Command(bin, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "mfabot 1.2.3 (commit abc1234, built 2026-11-22T09:00:00Z)" {
		t.Fatalf("version: %q %v", out, err)
	}
	out, err = exec.Command(bin, "config", "example").Output()
	if err != nil || !strings.Contains(string(out), "MFABOT_SLACK_BOT_TOKEN") {
		t.Fatalf("config example: %v", err)
	}
	if err := exec.Command(bin, "no-such-command").Run(); err == nil {
		t.Fatal("an unknown command exited 0")
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
	buildDir  string
)

// binary builds mfabot once per test run with the Dockerfile's ldflags.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "mfabot-bin-")
		if buildErr != nil {
			return
		}
		builtBin = filepath.Join(buildDir, "mfabot")
		ldflags := "-s -w -X main.version=1.2.3 -X main.commit=abc1234 -X main.date=2026-11-22T09:00:00Z"
		build := exec.Command("go", "build", "-ldflags", ldflags, "-o", builtBin, ".")
		build.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := build.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// TestKubernetesManifests: every environment variable the manifests set is one mfabot
// knows, the ConfigMap's mfabot.yaml loads, and no secret sits in the ConfigMap.
func TestKubernetesManifests(t *testing.T) {
	known := map[string]bool{}
	var c Config
	for _, s := range c.settings() {
		known[s.env] = true
	}
	files, _ := filepath.Glob("../../deploy/kubernetes/*.yaml")
	if len(files) < 4 {
		t.Fatalf("manifests: %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		switch doc["kind"] {
		case "Secret":
			for k := range doc["stringData"].(map[string]any) {
				if !known[k] {
					t.Errorf("%s sets %s, which mfabot does not read", f, k)
				}
			}
		case "ConfigMap":
			cfg := doc["data"].(map[string]any)["mfabot.yaml"].(string)
			if _, err := LoadConfig(writeFile(t, "mfabot.yaml", cfg), envOf(nil)); err != nil {
				t.Errorf("%s: mfabot.yaml does not load: %v", f, err)
			}
		case "Deployment":
			for _, m := range regexp.MustCompile(`name: (MFABOT_[A-Z_]+|AZURE_[A-Z_]+)`).FindAllStringSubmatch(string(data), -1) {
				if !known[m[1]] {
					t.Errorf("%s sets %s, which mfabot does not read", f, m[1])
				}
			}
		}
	}
}
