package retention

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// reference keeps by each rule written the plain way: sort, bucket, pick.
func reference(items []Item, p Policy) map[string]bool {
	s := append([]Item(nil), items...)
	sort.SliceStable(s, func(i, j int) bool {
		if !s[i].Time.Equal(s[j].Time) {
			return s[i].Time.After(s[j].Time)
		}
		return s[i].Name < s[j].Name
	})
	keep := map[string]bool{}
	for i := 0; i < p.Last && i < len(s); i++ {
		keep[s[i].Name] = true
	}
	if p.Within > 0 && len(s) > 0 {
		for _, it := range s {
			if s[0].Time.Sub(it.Time) <= p.Within {
				keep[it.Name] = true
			}
		}
	}
	buckets := func(n int, key func(time.Time) string) {
		newest := map[string]Item{}
		var order []string
		for _, it := range s { // newest first: the first of a bucket is its newest
			k := key(it.Time)
			if _, ok := newest[k]; !ok {
				newest[k] = it
				order = append(order, k)
			}
		}
		for i := 0; i < n && i < len(order); i++ {
			keep[newest[order[i]].Name] = true
		}
	}
	buckets(p.Hourly, func(t time.Time) string { return t.UTC().Truncate(time.Hour).String() })
	buckets(p.Daily, func(t time.Time) string { y, m, d := t.UTC().Date(); return fmt.Sprint(y, m, d) })
	buckets(p.Weekly, func(t time.Time) string { y, w := t.UTC().ISOWeek(); return fmt.Sprint(y, w) })
	buckets(p.Monthly, func(t time.Time) string { y, m, _ := t.UTC().Date(); return fmt.Sprint(y, m) })
	buckets(p.Yearly, func(t time.Time) string { return fmt.Sprint(t.UTC().Year()) })
	return keep
}

// TestDecideMatchesReference: 2,000 random groups and policies.
func TestDecideMatchesReference(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for seed := uint64(1); seed <= 2000; seed++ {
		r := rand.New(rand.NewPCG(seed, 11))
		var items []Item
		span := []time.Duration{time.Hour, 48 * time.Hour, 60 * 24 * time.Hour, 3 * 365 * 24 * time.Hour}[r.IntN(4)]
		for i := 0; i < r.IntN(60); i++ {
			items = append(items, Item{Name: fmt.Sprintf("s%03d", i), Time: base.Add(time.Duration(r.Int64N(int64(span))))})
		}
		p := Policy{Last: r.IntN(4), Hourly: r.IntN(5), Daily: r.IntN(5), Weekly: r.IntN(3), Monthly: r.IntN(3), Yearly: r.IntN(2)}
		if r.IntN(3) == 0 {
			p.Within = time.Duration(r.Int64N(int64(span)))
		}
		want := reference(items, p)
		for _, d := range Decide(items, p) {
			if d.Keep != want[d.Name] {
				t.Fatalf("seed %d, %s: %s at %s keep=%v (%v), reference %v", seed, p, d.Name, d.Time, d.Keep, d.Reasons, want[d.Name])
			}
		}
	}
}

func TestEmptyPolicy(t *testing.T) {
	if !(Policy{}).Empty() || (Policy{Daily: 1}).Empty() || (Policy{}).String() != "(none)" {
		t.Error("empty policy")
	}
}
