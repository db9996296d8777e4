package summary_test

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mfabot/mfabot/commands/summary"
)

// sample is a realistic summary for the chart: 30 days with gaps, eight methods.
func sample() *summary.Summary {
	s := &summary.Summary{
		Day: "2026-11-22", Report: true,
		Members: summary.Counts{Enabled: 8120, MFARegistered: 7480},
		Methods: map[string]int{
			"microsoftAuthenticatorPush": 6900, "mobilePhone": 5200, "fido2": 400,
			"windowsHelloForBusiness": 3100, "softwareOneTimePasscode": 800, "email": 300,
			"passKeyDeviceBound": 200, "sms": 20,
		},
	}
	today, _ := time.Parse("2006-01-02", s.Day)
	for i := 29; i >= 0; i-- {
		if i == 12 || i == 13 || i == 20 { // days without data
			continue
		}
		s.History = append(s.History, summary.Point{
			Day:     today.AddDate(0, 0, -i).Format("2006-01-02"),
			Percent: 80 + 12*(1-float64(i)/29) + math.Sin(float64(i)),
			SSPR:    55 + 20*(1-float64(i)/29),
		})
	}
	return s
}

// inkShare is the share of pixels in r that are not white, and whether any is near c.
func inkShare(img image.Image, r image.Rectangle, c color.RGBA) (float64, bool) {
	var ink, all int
	found := false
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			pr, pg, pb, _ := img.At(x, y).RGBA()
			all++
			if pr>>8 < 0xf0 || pg>>8 < 0xf0 || pb>>8 < 0xf0 {
				ink++
			}
			if near(pr>>8, c.R) && near(pg>>8, c.G) && near(pb>>8, c.B) {
				found = true
			}
		}
	}
	return float64(ink) / float64(all), found
}

func near(a uint32, b uint8) bool { return math.Abs(float64(a)-float64(b)) < 12 }

var (
	trendBlue  = color.RGBA{0x0b, 0x4f, 0xa8, 0xff}
	ssprOrange = color.RGBA{0xb3, 0x4a, 0x00, 0xff}
	barTeal    = color.RGBA{0x00, 0x6d, 0x5b, 0xff}
)

func TestChart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		s         *summary.Summary
		line, bar bool // whether the trend line and the bars are drawn
	}{
		{name: "Full", s: sample(), line: true, bar: true},
		{name: "FirstDay", s: func() *summary.Summary { s := sample(); s.History = s.History[len(s.History)-1:]; return s }(), line: true, bar: true},
		{name: "NoReport", s: func() *summary.Summary {
			s := sample()
			s.Report, s.Methods = false, nil
			return s
		}(), line: true},
		{name: "Nothing", s: &summary.Summary{Day: "2026-11-22"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := summary.Chart(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("not a PNG: %v", err)
			}
			if got := img.Bounds().Size(); got != image.Pt(summary.ChartWidth, summary.ChartHeight) {
				t.Fatalf("size %v, want %dx%d", got, summary.ChartWidth, summary.ChartHeight)
			}
			top := image.Rect(0, 0, summary.ChartWidth, summary.ChartHeight/2)
			bottom := image.Rect(0, summary.ChartHeight/2, summary.ChartWidth, summary.ChartHeight)
			topInk, line := inkShare(img, top, trendBlue)
			_, sspr := inkShare(img, top, ssprOrange)
			if sspr != tt.line {
				t.Errorf("SSPR trend drawn %v, want %v (beside MFA's)", sspr, tt.line)
			}
			bottomInk, bar := inkShare(img, bottom, barTeal)
			// Text alone (titles, "No data yet") covers a little; a chart more.
			if topInk < 0.005 || bottomInk < 0.005 {
				t.Errorf("a panel is blank: %.3f, %.3f of pixels inked", topInk, bottomInk)
			}
			if line != tt.line || bar != tt.bar {
				t.Errorf("trend line drawn %v, bars drawn %v; want %v, %v", line, bar, tt.line, tt.bar)
			}
			if tt.name == "Full" && *update {
				// A sample for people to look at; tests never compare it byte for byte.
				if err := os.WriteFile(filepath.Join("testdata", "chart-sample.png"), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}
