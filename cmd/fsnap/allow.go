package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/fsnap/fsnap/store"
)

// allowPathFlag declares --allow-path, for commands that read a snapshot's
// files: absolute paths in _metadata are read only inside the snapshot's
// checkpoint root and these folders.
func allowPathFlag(fs *pflag.FlagSet, v *[]string) {
	fs.StringArrayVar(v, "allow-path", nil, "also read files that _metadata names under this folder or URL (repeatable); "+
		"by default only the snapshot's checkpoint root is read")
}

// allowScopes opens the folders of --allow-path.
func allowScopes(ctx context.Context, refs []string) ([]store.Scope, error) {
	var out []store.Scope
	for _, r := range refs {
		s, err := store.OpenScope(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
