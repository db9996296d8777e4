package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"

	"github.com/chromedp/chromedp"
	xdraw "golang.org/x/image/draw"
)

// elementShot is a screenshot of the first element sel matches: the whole page, cut to
// the element's box.
func elementShot(ctx context.Context, sel string) ([]byte, error) {
	box, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const e = document.querySelector(`+
		fmt.Sprintf("%q", sel)+`); e.scrollIntoView({block: "end"}); const r = e.getBoundingClientRect(); `+
		`return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()`))
	if err != nil {
		return nil, err
	}
	full, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(full))
	if err != nil {
		return nil, err
	}
	r := image.Rect(int(box[0]), int(box[1]), int(box[0]+box[2]), int(box[1]+box[3])).Intersect(img.Bounds())
	cut := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(cut, cut.Bounds(), img, r.Min, draw.Src)
	var buf bytes.Buffer
	if err := png.Encode(&buf, cut); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFlowImage lays screenshots out two cells to a row, reading order, into one PNG for
// README: each cell is one or more screenshots stacked, scaled down to the cell's width.
func writeFlowImage(path string, cells ...[][]byte) error {
	const cellWidth, gap = 640, 16
	type placed struct {
		img  image.Image
		w, h int
	}
	var laid [][]placed
	for i, cell := range cells {
		var stack []placed
		for j, b := range cell {
			img, err := png.Decode(bytes.NewReader(b))
			if err != nil {
				return fmt.Errorf("screenshot %d.%d: %w", i, j, err)
			}
			w, h := img.Bounds().Dx(), img.Bounds().Dy()
			if w > cellWidth {
				w, h = cellWidth, h*cellWidth/w
			}
			stack = append(stack, placed{img, w, h})
		}
		laid = append(laid, stack)
	}
	height := func(stack []placed) int {
		n := 0
		for _, p := range stack {
			n += p.h + gap
		}
		return n - gap
	}
	total := gap
	for r := 0; r < len(laid); r += 2 {
		h := height(laid[r])
		if r+1 < len(laid) {
			h = max(h, height(laid[r+1]))
		}
		total += h + gap
	}
	out := image.NewRGBA(image.Rect(0, 0, 2*cellWidth+3*gap, total))
	draw.Draw(out, out.Bounds(), image.NewUniform(color.RGBA{0xdd, 0xdd, 0xe2, 0xff}), image.Point{}, draw.Src)
	y := gap
	for r := 0; r < len(laid); r += 2 {
		rowH := 0
		for c := 0; c < 2 && r+c < len(laid); c++ {
			x, cy := gap+c*(cellWidth+gap), y
			for _, p := range laid[r+c] {
				xdraw.CatmullRom.Scale(out, image.Rect(x, cy, x+p.w, cy+p.h), p.img, p.img.Bounds(), draw.Over, nil)
				cy += p.h + gap
			}
			rowH = max(rowH, height(laid[r+c]))
		}
		y += rowH + gap
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, out); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
