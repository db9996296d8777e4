package slack_test

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mfabot/mfabot/approvals"
	"github.com/mfabot/mfabot/bot"
	"github.com/mfabot/mfabot/bot/slack/slacktest"
)

// chartPNG is a small real PNG, as the summary chart is.
func chartPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 4))
	for x := range 8 {
		img.Set(x, x%4, color.RGBA{R: 200, A: 255})
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestPostUploadsImageAndFiles: Post sends the message, then shares the chart into the
// channel and the CSV into the message's thread, each through the files upload v2 flow
// (files.getUploadURLExternal, the bytes to the upload URL, files.completeUploadExternal
// with channel_id), and Slack ends up with exactly the bytes given.
func TestPostUploadsImageAndFiles(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	chart := chartPNG(t)
	csv := []byte("upn,displayName\nadele.vance@contoso.com,Adele Vance\n")
	msg := bot.Message{
		Title: "MFA enrollment",
		Image: &bot.File{Name: "enrollment-2026-11-22.png", ContentType: "image/png", Data: chart, Alt: "Enrollment by week: 80% registered"},
		Files: []bot.File{{Name: "unregistered.csv", ContentType: "text/csv", Data: csv}},
	}
	ref, err := f.ad.Post(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if ref.Platform != "slack" || ref.Channel != slacktest.Channel || ref.MessageID == "" {
		t.Fatalf("ref = %+v", ref)
	}

	var methods []string
	for _, c := range f.slack.Calls() {
		if c.Method != "auth.test" && c.Method != "bots.info" {
			methods = append(methods, c.Method)
		}
	}
	flow := []string{"files.getUploadURLExternal", "upload", "files.completeUploadExternal"}
	wantMethods := append(append([]string{"chat.postMessage"}, flow...), flow...)
	if diff := cmp.Diff(wantMethods, methods); diff != "" {
		t.Fatalf("calls (-want +got):\n%s", diff)
	}

	urls := f.slack.Calls("files.getUploadURLExternal")
	type urlArgs struct{ Filename, Length, Alt string }
	var gotURLs []urlArgs
	for _, c := range urls {
		if c.Error != "" {
			t.Fatalf("files.getUploadURLExternal answered %s", c.Error)
		}
		gotURLs = append(gotURLs, urlArgs{c.Args["filename"], c.Args["length"], c.Args["alt_txt"]})
	}
	wantURLs := []urlArgs{
		{"enrollment-2026-11-22.png", strconv.Itoa(len(chart)), "Enrollment by week: 80% registered"},
		{"unregistered.csv", strconv.Itoa(len(csv)), ""},
	}
	if diff := cmp.Diff(wantURLs, gotURLs); diff != "" {
		t.Fatalf("files.getUploadURLExternal (-want +got):\n%s", diff)
	}

	for _, c := range f.slack.Calls("files.completeUploadExternal") {
		if c.Error != "" || c.Args["channel_id"] != slacktest.Channel {
			t.Fatalf("files.completeUploadExternal = %+v, want channel_id %s", c, slacktest.Channel)
		}
	}

	got := f.slack.Files()
	want := []slacktest.File{
		{Name: "enrollment-2026-11-22.png", Title: "enrollment-2026-11-22.png", AltText: "Enrollment by week: 80% registered",
			Data: chart, Length: len(chart), Channel: slacktest.Channel, Shared: true},
		{Name: "unregistered.csv", Title: "unregistered.csv",
			Data: csv, Length: len(csv), Channel: slacktest.Channel, ThreadTS: ref.MessageID, Shared: true},
	}
	ignoreID := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ID" }, cmp.Ignore())
	if diff := cmp.Diff(want, got, ignoreID); diff != "" {
		t.Fatalf("files shared (-want +got):\n%s", diff)
	}
}

// TestPostUploadFailure: when one upload fails Post still returns the posted message's
// reference with the error, and the other files are uploaded all the same.
func TestPostUploadFailure(t *testing.T) {
	t.Parallel()
	f := newFixture(t, newRecorder(nil))
	csv := []byte("upn\nadele.vance@contoso.com\n")
	ref, err := f.ad.Post(context.Background(), bot.Message{
		Title: "MFA enrollment",
		Files: []bot.File{{Name: "empty.csv", ContentType: "text/csv"}, {Name: "unregistered.csv", ContentType: "text/csv", Data: csv}},
	})
	if code := approvals.ErrorCode(err); code != approvals.EINVALID {
		t.Fatalf("Post = %v (code %q), want EINVALID for the empty file", err, code)
	}
	if _, ok := f.slack.Message(ref.Channel, ref.MessageID); !ok {
		t.Fatalf("ref %+v does not name the posted message", ref)
	}
	files := f.slack.Files()
	if len(files) != 1 || files[0].Name != "unregistered.csv" || !bytes.Equal(files[0].Data, csv) || files[0].ThreadTS != ref.MessageID {
		t.Fatalf("files = %+v, want unregistered.csv in the message's thread", files)
	}
}
