package report

import "sort"

// Rect is a rectangle of the page's treemap (SVG user units).
type Rect struct{ X, Y, W, H float64 }

// Squarify lays values out in r as rectangles whose areas are proportional
// to the values (Bruls, Huizing and van Wijk's squarified treemap): rows of
// rectangles along the shorter side, each row kept while it improves the
// worst aspect ratio. Zero and negative values get empty rectangles.
func Squarify(values []float64, r Rect) []Rect {
	out := make([]Rect, len(values))
	idx := make([]int, 0, len(values))
	total := 0.0
	for i, v := range values {
		if v > 0 {
			idx = append(idx, i)
			total += v
		}
	}
	if total == 0 || r.W <= 0 || r.H <= 0 {
		return out
	}
	sort.SliceStable(idx, func(a, b int) bool { return values[idx[a]] > values[idx[b]] })
	scale := r.W * r.H / total // area per unit of value
	for len(idx) > 0 {
		short := min(r.W, r.H)
		row := []int{idx[0]}
		sum := values[idx[0]] * scale
		for k := 1; k < len(idx); k++ {
			a := values[idx[k]] * scale
			if worst(row, sum, short, values, scale) < worst(append(row, idx[k]), sum+a, short, values, scale) {
				break
			}
			row = append(row, idx[k])
			sum += a
		}
		idx = idx[len(row):]
		// Lay the row along the short side; it takes sum/short of the long one.
		thick := sum / short
		pos := 0.0
		for _, i := range row {
			length := values[i] * scale / thick
			if r.W >= r.H { // column on the left
				out[i] = Rect{r.X, r.Y + pos, thick, length}
			} else { // row on top
				out[i] = Rect{r.X + pos, r.Y, length, thick}
			}
			pos += length
		}
		if r.W >= r.H {
			r.X, r.W = r.X+thick, r.W-thick
		} else {
			r.Y, r.H = r.Y+thick, r.H-thick
		}
	}
	return out
}

// worst is the largest aspect ratio of a row of the given areas.
func worst(row []int, sum, side float64, values []float64, scale float64) float64 {
	mx, mn := 0.0, 0.0
	for k, i := range row {
		a := values[i] * scale
		if k == 0 || a > mx {
			mx = a
		}
		if k == 0 || a < mn {
			mn = a
		}
	}
	s2, side2 := sum*sum, side*side
	return max(side2*mx/s2, s2/(side2*mn))
}
