// Package units formats quantities for people: the one byte and time
// formatter of the CLI and the HTML report.
package units

import (
	"fmt"
	"time"
)

// Time formats an instant in UTC, saying so: output read on another
// machine, or pasted into a ticket, must not depend on the local zone.
func Time(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// Bytes formats a byte count in binary units: 0 B, 999 B, 1.5 KiB, 12 MiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	v := float64(n) / float64(div)
	if v < 10 {
		return fmt.Sprintf("%.1f %ciB", v, "KMGTPE"[exp])
	}
	return fmt.Sprintf("%.0f %ciB", v, "KMGTPE"[exp])
}
