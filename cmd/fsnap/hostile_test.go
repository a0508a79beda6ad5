package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fsnap/fsnap/format"
)

// hostileSavepoint writes a savepoint whose one operator state is the file
// at abs (an absolute path outside it) and returns its directory.
func hostileSavepoint(t *testing.T, dir, abs string, size int64) string {
	t.Helper()
	m := &format.Metadata{Version: 6, CheckpointID: 3, Properties: format.NewSavepointProperties("CANONICAL"),
		Operators: []format.OperatorState{{ID: format.OperatorIDFromUID("x"), Parallelism: 1, MaxParallelism: 128,
			Subtasks: []format.SubtaskState{{Index: 0, ManagedOperatorState: &format.OperatorStateHandle{
				States:   []format.NamedOperatorState{{Name: "s", Offsets: []int64{0}}},
				Delegate: &format.FileHandle{Path: "file:" + abs, Size: size}}}}}}}
	b, err := format.AppendMetadata(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	sp := filepath.Join(dir, "savepoint-0a1b2c-0123456789ab")
	os.MkdirAll(sp, 0o755)
	if err := os.WriteFile(filepath.Join(sp, "_metadata"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return sp
}

// TestHostileAbsolutePaths (issue 20, item 7): a _metadata naming a local
// file outside the snapshot's checkpoint root (file:/…/shadow) makes
// inspect, verify and relocate neither read nor copy it, nor echo its
// bytes; the file is named in a finding or an error. A link inside the
// root that points outside is no way around it. --allow-path lets it be
// read.
func TestHostileAbsolutePaths(t *testing.T) {
	base := t.TempDir()
	etc := filepath.Join(base, "etc")
	os.MkdirAll(etc, 0o755)
	secret := "root:$6$SECRETHASH:19000:0:99999:7:::\n"
	shadow := filepath.Join(etc, "shadow")
	os.WriteFile(shadow, []byte(secret), 0o600)
	for name, target := range map[string]string{"direct": shadow, "through a link": ""} {
		t.Run(name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "savepoints")
			os.MkdirAll(root, 0o755)
			if target == "" { // a link in the root to the file outside
				target = filepath.Join(root, "innocent")
				os.Symlink(shadow, target)
			}
			sp := hostileSavepoint(t, root, target, int64(len(secret)))
			for _, args := range [][]string{
				{"inspect", "--states", sp}, {"verify", "--deep", sp}, {"verify", "-o", "json", sp},
			} {
				code, out, errs := fsnap(t, args...)
				if strings.Contains(out+errs, "SECRETHASH") || strings.Contains(out+errs, "1919907616") /* "root" as a number */ {
					t.Errorf("%q echoes the file:\n%s%s", args, out, errs)
				}
				if !strings.Contains(out+errs, "outside the snapshot's checkpoint root") {
					t.Errorf("%q: exit %d, no finding of the path outside:\n%s%s", args, code, out, errs)
				}
			}
			if code, _, _ := fsnap(t, "verify", sp); code != exitFindings {
				t.Errorf("verify: exit %d, want 1", code)
			}
			dst := filepath.Join(t.TempDir(), "dst")
			code, out, errs := fsnap(t, "migrate", "relocate", "--progress", "none", sp, dst)
			if code != exitInput {
				t.Errorf("relocate: exit %d, want 3:\n%s%s", code, out, errs)
			}
			filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
				if err == nil && !fi.IsDir() {
					if b, _ := os.ReadFile(p); strings.Contains(string(b), "SECRETHASH") {
						t.Errorf("relocate copied the file outside to %s", p)
					}
				}
				return nil
			})
			// Allowed explicitly, it is read (and found not to be state).
			_, out, errs = fsnap(t, "verify", "--allow-path", etc, sp)
			if strings.Contains(out+errs, "outside the snapshot's checkpoint root") {
				t.Errorf("--allow-path: still refused:\n%s%s", out, errs)
			}
		})
	}
}
