package summary

import (
	"bytes"
	"fmt"
	"image/color"
	"strconv"
	"time"

	stdfont "golang.org/x/image/font"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Chart size in pixels. At 72 dpi a point is a pixel, so font sizes below are pixels.
const (
	ChartWidth  = 1200
	ChartHeight = 900
	chartDPI    = 72
)

// chartMethods is how many methods the bar panel shows; more would not be readable on a
// phone. The message lists them all.
const chartMethods = 6

var (
	ink      = color.RGBA{0x1a, 0x1a, 0x1a, 0xff} // text and axes: near black
	lineBlue = color.RGBA{0x0b, 0x4f, 0xa8, 0xff} // trend: dark blue on white, 8:1 contrast
	barTeal  = color.RGBA{0x00, 0x6d, 0x5b, 0xff} // bars: dark teal, distinct from the line
	// SSPR trend: dark orange on white (5.6:1), far from the blue in hue and lightness.
	ssprOrange = color.RGBA{0xb3, 0x4a, 0x00, 0xff}
	gridGrey   = color.RGBA{0xd0, 0xd0, 0xd0, 0xff}
	sans       = font.Font{Typeface: "Liberation", Variant: "Sans"}
	sansBold   = font.Font{Typeface: "Liberation", Variant: "Sans", Weight: stdfont.WeightBold}
)

// Chart renders the summary as one PNG of ChartWidth×ChartHeight pixels, made to be read
// on a phone: on top the MFA and the SSPR registered % of enabled members per day over the
// last 30 days (History), below the share of enabled members with each method (the most common
// chartMethods). A panel without data says so instead of drawing empty axes.
func Chart(s *Summary) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(ChartWidth, ChartHeight), vgimg.UseDPI(chartDPI),
		vgimg.UseBackgroundColor(color.White))
	dc := draw.New(c)
	const pad = 24
	split := vg.Length(ChartHeight) * 0.52
	top := draw.Crop(dc, pad, -pad, split, -pad)
	bottom := draw.Crop(dc, pad, -pad, pad, -(vg.Length(ChartHeight) - split + pad))

	if err := trendPanel(s).draw(top); err != nil {
		return nil, fmt.Errorf("draw trend: %w", err)
	}
	if err := methodPanel(s).draw(bottom); err != nil {
		return nil, fmt.Errorf("draw methods: %w", err)
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("encode chart: %w", err)
	}
	return buf.Bytes(), nil
}

// panel is a plot, or a titled message when there is nothing to plot.
type panel struct {
	p     *plot.Plot
	title string
	empty string
}

func (pn panel) draw(c draw.Canvas) error {
	if pn.p != nil {
		pn.p.Draw(c)
		return nil
	}
	title := style(sansBold, 30)
	title.XAlign, title.YAlign = draw.XCenter, draw.YTop
	c.FillText(title, vg.Point{X: c.Center().X, Y: c.Max.Y}, pn.title)
	msg := style(sans, 28)
	msg.XAlign, msg.YAlign = draw.XCenter, draw.YCenter
	msg.Color = color.RGBA{0x55, 0x55, 0x55, 0xff}
	c.FillText(msg, c.Center(), pn.empty)
	return nil
}

func trendPanel(s *Summary) panel {
	const title = "MFA and SSPR registered, enabled members (last 30 days)"
	today, err := time.Parse(dayLayout, s.Day)
	if err != nil || len(s.History) == 0 {
		return panel{title: title, empty: "No data yet"}
	}
	first := today.AddDate(0, 0, -(HistoryDays - 1))
	mfa := make(plotter.XYs, 0, len(s.History))
	sspr := make(plotter.XYs, 0, len(s.History))
	for _, pt := range s.History {
		d, err := time.Parse(dayLayout, pt.Day)
		if err != nil {
			continue
		}
		x := d.Sub(first).Hours() / 24
		mfa = append(mfa, plotter.XY{X: x, Y: pt.Percent})
		sspr = append(sspr, plotter.XY{X: x, Y: pt.SSPR})
	}

	p := newPlot(title)
	p.Y.Min, p.Y.Max = 0, 100
	p.Y.Tick.Marker = plot.ConstantTicks(percentTicks(0, 25, 50, 75, 100))
	p.X.Min, p.X.Max = 0, HistoryDays-1
	var ticks []plot.Tick
	for i := HistoryDays - 1; i >= 0; i -= 7 {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: first.AddDate(0, 0, i).Format("2 Jan")})
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)

	grid := plotter.NewGrid()
	grid.Vertical.Width = 0
	grid.Horizontal.Color = gridGrey
	grid.Horizontal.Width = 1.5
	p.Add(grid)

	// SSPR is drawn dashed with squares, MFA solid with circles, in colours apart: the two
	// lines differ by more than colour, for readers who cannot tell the colours apart.
	ssprLine, ssprPoints, err := plotter.NewLinePoints(sspr)
	if err != nil {
		return panel{title: title, empty: "No data yet"}
	}
	ssprLine.Color, ssprLine.Width, ssprLine.Dashes = ssprOrange, 4, []vg.Length{14, 8}
	ssprPoints.Color, ssprPoints.Shape, ssprPoints.Radius = ssprOrange, draw.BoxGlyph{}, 6
	mfaLine, mfaPoints, err := plotter.NewLinePoints(mfa)
	if err != nil {
		return panel{title: title, empty: "No data yet"}
	}
	mfaLine.Color, mfaLine.Width = lineBlue, 5
	mfaPoints.Color, mfaPoints.Shape, mfaPoints.Radius = lineBlue, draw.CircleGlyph{}, 7
	p.Add(ssprLine, ssprPoints, mfaLine, mfaPoints)

	p.Legend.Add("MFA", mfaLine, mfaPoints)
	p.Legend.Add("SSPR", ssprLine, ssprPoints)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs, p.Legend.YOffs = 16, -8
	restyle(&p.Legend.TextStyle, sansBold, 26)

	last := len(mfa) - 1
	addLabel := func(pt plotter.XY, label string, c color.Color, below bool) {
		lab, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{pt}, Labels: []string{label}})
		if err != nil {
			return
		}
		st := style(sansBold, 28)
		st.Color = c
		st.XAlign, st.YAlign = draw.XRight, draw.YBottom
		lab.Offset = vg.Point{X: -12, Y: 18}
		if below {
			st.YAlign = draw.YTop
			lab.Offset.Y = -18
		}
		lab.TextStyle = []text.Style{st}
		p.Add(lab)
	}
	// The higher line's label goes above it, the lower one's below, so they never overlap.
	mfaAbove := mfa[last].Y >= sspr[last].Y
	addLabel(mfa[last], "MFA "+strconv.FormatFloat(mfa[last].Y, 'f', 1, 64)+"%", lineBlue, !mfaAbove || mfa[last].Y > 88)
	addLabel(sspr[last], "SSPR "+strconv.FormatFloat(sspr[last].Y, 'f', 1, 64)+"%", ssprOrange, mfaAbove || sspr[last].Y > 88)
	return panel{p: p}
}

func methodPanel(s *Summary) panel {
	title := "Methods registered (% of enabled members)"
	mix := methodMix(s)
	if !s.Report || len(mix) == 0 || s.Members.Enabled == 0 {
		return panel{title: "Methods registered", empty: "No registration data"}
	}
	if len(mix) > chartMethods {
		mix = mix[:chartMethods]
		title = fmt.Sprintf("Top %d methods (%% of enabled members)", chartMethods)
	}
	// Bars are drawn bottom up, the most common method on top, in chartMethods fixed
	// slots so that a bar is as thick with two methods as with six.
	n := len(mix)
	first := chartMethods - n // the lowest slot used
	vals := make(plotter.Values, n)
	names := make([]string, chartMethods)
	labels := make([]string, n)
	xys := make(plotter.XYs, n)
	for i, m := range mix {
		j := n - 1 - i
		v := Percent(m.count, s.Members.Enabled)
		vals[j], names[first+j] = v, shorten(m.label, 28)
		labels[j] = strconv.FormatFloat(v, 'f', 0, 64) + "%"
		xys[j] = plotter.XY{X: v, Y: float64(first + j)}
	}

	p := newPlot(title)
	bars, err := plotter.NewBarChart(vals, 40)
	if err != nil {
		return panel{title: title, empty: "No registration data"}
	}
	bars.Horizontal = true
	bars.XMin = float64(first)
	bars.Color = barTeal
	bars.LineStyle.Width = 0
	p.Add(bars)
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.5, chartMethods-0.5
	restyle(&p.Y.Tick.Label, sans, 26)
	p.X.Min, p.X.Max = 0, 112 // room for the value labels right of a full bar
	p.HideX()                 // every bar carries its value; an axis would only add lines

	lab, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err == nil {
		st := style(sansBold, 26)
		st.XAlign, st.YAlign = draw.XLeft, draw.YCenter
		lab.TextStyle = make([]text.Style, len(labels))
		for i := range lab.TextStyle {
			lab.TextStyle[i] = st
		}
		lab.Offset = vg.Point{X: 10, Y: 4} // optical centre: the digits have no descenders
		p.Add(lab)
	}
	return panel{p: p}
}

// newPlot is a plot styled for a phone: large type, heavy axes, nothing else.
func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	restyle(&p.Title.TextStyle, sansBold, 30)
	p.Title.Padding = 18
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		restyle(&a.Tick.Label, sans, 24)
		a.Tick.Color, a.Tick.Width, a.Tick.Length = ink, 2, 8
		a.Color, a.Width = ink, 2.5
		a.Padding = 6
	}
	return p
}

func style(f font.Font, size vg.Length) text.Style {
	f.Size = size
	return text.Style{Color: ink, Font: f, Handler: plot.DefaultTextHandler}
}

// shorten cuts s to n runes with an ellipsis: a method Graph adds later may have a long
// name, and the bars must keep their room.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// restyle changes the font and colour of a style plot made, keeping its alignment.
func restyle(st *text.Style, f font.Font, size vg.Length) {
	f.Size = size
	st.Font, st.Color = f, ink
}

func percentTicks(vs ...float64) []plot.Tick {
	ts := make([]plot.Tick, len(vs))
	for i, v := range vs {
		ts[i] = plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', 0, 64) + "%"}
	}
	return ts
}
