// Package retention decides which snapshots a retention policy keeps,
// with restic `forget`'s semantics: the newest N (keep-last), every one
// within a duration of the newest (keep-within), and the newest of each of
// the last N hours, days, weeks (ISO), months and years that have a
// snapshot. A snapshot is kept when any rule keeps it, and each rule names
// itself as a reason. Groups (a job's checkpoints, a folder's savepoints)
// are decided separately by the caller.
package retention

import (
	"fmt"
	"sort"
	"time"
)

// Policy is a retention policy; zero fields keep nothing by themselves.
type Policy struct {
	Last                                   int
	Within                                 time.Duration
	Hourly, Daily, Weekly, Monthly, Yearly int
}

// Empty reports whether the policy keeps nothing at all: restic refuses
// such a forget, and so does prune.
func (p Policy) Empty() bool {
	return p.Last <= 0 && p.Within <= 0 && p.Hourly <= 0 && p.Daily <= 0 && p.Weekly <= 0 && p.Monthly <= 0 && p.Yearly <= 0
}

func (p Policy) String() string {
	s := ""
	add := func(name string, n int) {
		if n > 0 {
			s += fmt.Sprintf(" --keep-%s %d", name, n)
		}
	}
	add("last", p.Last)
	if p.Within > 0 {
		s += " --keep-within " + p.Within.String()
	}
	add("hourly", p.Hourly)
	add("daily", p.Daily)
	add("weekly", p.Weekly)
	add("monthly", p.Monthly)
	add("yearly", p.Yearly)
	if s == "" {
		return "(none)"
	}
	return s[1:]
}

// Item is one snapshot of a group.
type Item struct {
	Name string
	Time time.Time
}

// Decision is what the policy says of an item.
type Decision struct {
	Item
	Keep    bool
	Reasons []string // the rules that keep it
}

// Decide applies the policy to one group; decisions come newest first
// (ties by name). Times are bucketed in UTC.
func Decide(items []Item, p Policy) []Decision {
	ds := make([]Decision, len(items))
	for i, it := range items {
		ds[i].Item = it
	}
	sort.SliceStable(ds, func(i, j int) bool {
		if !ds[i].Time.Equal(ds[j].Time) {
			return ds[i].Time.After(ds[j].Time)
		}
		return ds[i].Name < ds[j].Name
	})
	keep := func(i int, why string) {
		ds[i].Keep = true
		ds[i].Reasons = append(ds[i].Reasons, why)
	}
	for i := range ds {
		if i < p.Last {
			keep(i, "last")
		}
	}
	if p.Within > 0 && len(ds) > 0 {
		cut := ds[0].Time.Add(-p.Within)
		for i := range ds {
			if !ds[i].Time.Before(cut) {
				keep(i, "within "+p.Within.String())
			}
		}
	}
	for _, b := range []struct {
		name   string
		n      int
		bucket func(t time.Time) string
	}{
		{"hourly", p.Hourly, func(t time.Time) string { return t.UTC().Format("2006-01-02T15") }},
		{"daily", p.Daily, func(t time.Time) string { return t.UTC().Format("2006-01-02") }},
		{"weekly", p.Weekly, func(t time.Time) string { y, w := t.UTC().ISOWeek(); return fmt.Sprintf("%d-W%02d", y, w) }},
		{"monthly", p.Monthly, func(t time.Time) string { return t.UTC().Format("2006-01") }},
		{"yearly", p.Yearly, func(t time.Time) string { return t.UTC().Format("2006") }},
	} {
		if b.n <= 0 {
			continue
		}
		last, seen := "", 0
		for i := range ds {
			k := b.bucket(ds[i].Time)
			if k == last {
				continue
			}
			last = k
			if seen++; seen > b.n {
				break
			}
			keep(i, b.name)
		}
	}
	return ds
}
