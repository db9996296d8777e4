//go:build ignore

// gen_icons draws the Teams app icons: color.png (192×192, a white shield with a check
// mark on mfabot blue) and outline.png (32×32, the same shield outlined in white on
// transparent, as Teams requires). Run it with go generate in manifests/teams.
package main

import (
	"image"
	"image/color"
	"image/png"
	"log"
	"math"
	"os"
)

type pt struct{ x, y float64 }

// accent is the manifest's accentColor, #2B579A.
var accent = color.NRGBA{R: 0x2B, G: 0x57, B: 0x9A, A: 0xFF}

// shield is the outline of the shield in unit coordinates.
func shield() []pt {
	p := []pt{{0.5, 0.08}, {0.83, 0.2}, {0.83, 0.48}}
	// Right flank down to the tip, then the left flank back up: quadratic curves.
	quad := func(a, c, b pt) {
		for i := 1; i <= 24; i++ {
			t := float64(i) / 24
			u := 1 - t
			p = append(p, pt{u*u*a.x + 2*u*t*c.x + t*t*b.x, u*u*a.y + 2*u*t*c.y + t*t*b.y})
		}
	}
	quad(pt{0.83, 0.48}, pt{0.82, 0.8}, pt{0.5, 0.93})
	quad(pt{0.5, 0.93}, pt{0.18, 0.8}, pt{0.17, 0.48})
	return append(p, pt{0.17, 0.2})
}

var check = []pt{{0.34, 0.51}, {0.46, 0.64}, {0.68, 0.38}}

func inside(poly []pt, q pt) bool {
	in := false
	for i, j := 0, len(poly)-1; i < len(poly); j, i = i, i+1 {
		a, b := poly[i], poly[j]
		if (a.y > q.y) != (b.y > q.y) && q.x < (b.x-a.x)*(q.y-a.y)/(b.y-a.y)+a.x {
			in = !in
		}
	}
	return in
}

func segDist(q, a, b pt) float64 {
	dx, dy := b.x-a.x, b.y-a.y
	t := ((q.x-a.x)*dx + (q.y-a.y)*dy) / (dx*dx + dy*dy)
	t = math.Max(0, math.Min(1, t))
	return math.Hypot(q.x-(a.x+t*dx), q.y-(a.y+t*dy))
}

func nearPath(path []pt, closed bool, q pt, halfWidth float64) bool {
	n := len(path) - 1
	if closed {
		n = len(path)
	}
	for i := 0; i < n; i++ {
		if segDist(q, path[i], path[(i+1)%len(path)]) <= halfWidth {
			return true
		}
	}
	return false
}

// render draws an icon of the given size, sampling each pixel 8×8 times.
func render(size int, sample func(q pt) color.NRGBA) *image.NRGBA {
	const ss = 8
	img := image.NewNRGBA(image.Rect(0, 0, size, size))
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			var r, g, b, a float64
			for sy := 0; sy < ss; sy++ {
				for sx := 0; sx < ss; sx++ {
					q := pt{(float64(x) + (float64(sx)+0.5)/ss) / float64(size), (float64(y) + (float64(sy)+0.5)/ss) / float64(size)}
					c := sample(q)
					fa := float64(c.A) / 255
					r, g, b, a = r+float64(c.R)*fa, g+float64(c.G)*fa, b+float64(c.B)*fa, a+fa
				}
			}
			if a == 0 {
				continue
			}
			img.SetNRGBA(x, y, color.NRGBA{
				R: uint8(math.Round(r / a)), G: uint8(math.Round(g / a)), B: uint8(math.Round(b / a)),
				A: uint8(math.Round(255 * a / (ss * ss))),
			})
		}
	}
	return img
}

func write(name string, img image.Image) {
	f, err := os.Create(name)
	if err != nil {
		log.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
}

func main() {
	sh := shield()
	white := color.NRGBA{R: 255, G: 255, B: 255, A: 255}
	clear := color.NRGBA{}

	write("color.png", render(192, func(q pt) color.NRGBA {
		if inside(sh, q) {
			if nearPath(check, false, q, 0.045) {
				return accent
			}
			return white
		}
		return accent
	}))

	// Outline: 2 px of white stroke at 32 px, the check mark inside, nothing else.
	write("outline.png", render(32, func(q pt) color.NRGBA {
		if nearPath(sh, true, q, 0.035) || nearPath(check, false, q, 0.04) {
			return white
		}
		return clear
	}))
}
