package format

import "testing"

func TestOperatorIDFromUID(t *testing.T) {
	// Pairs seen in the corpus (metadata.md §4.4).
	for uid, want := range map[string]string{
		"second":               "6730ef7375fb60f9d9bbdfdfd174d803",
		"datagen-source-uid":   "47aee94394d6ea26e2d544bef0a37bb5",
		"CheckpointingSource2": "1f2b5df5a66154aca61fcb26193792be",
	} {
		if got := OperatorIDFromUID(uid).String(); got != want {
			t.Errorf("OperatorIDFromUID(%q) = %s, want %s", uid, got, want)
		}
	}
}
