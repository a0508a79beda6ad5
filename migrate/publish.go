package migrate

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"path/filepath"

	"gocloud.dev/blob"

	"github.com/fsnap/fsnap/internal/transfer"
	"github.com/fsnap/fsnap/store"
)

// publishMetadata is the last step of every migrate writer (relocation,
// to-canonical), once every file the new _metadata names is in place and
// checked: local files among written are made durable (their directory
// entries too), then _metadata is written with its MD5 (stores that check
// it refuse other bytes), made durable, and read back. An interrupted run
// therefore never leaves a _metadata naming a file that is not there.
// With data nil the _metadata is already there: only the files are synced.
func publishMetadata(ctx context.Context, dst *store.Location, key string, data []byte, written []transfer.Object, sync bool) error {
	local := dst.Scheme == "file" && sync
	if local {
		dirs := map[string]bool{}
		for _, o := range written {
			// _metadata itself is made durable once written, below: when
			// it is the only file (all state inline), its folder does not
			// exist yet.
			if o.Loc.Scheme == "file" && o.Name() != dst.NameOf(key) {
				dirs[filepath.Dir(o.Name())] = true
			}
		}
		for d := range dirs {
			if err := transfer.SyncPath(d); err != nil {
				return err
			}
		}
	}
	if data == nil {
		return nil
	}
	sum := md5.Sum(data)
	w, err := dst.Bucket.NewWriter(ctx, key, &blob.WriterOptions{ContentType: "application/octet-stream", ContentMD5: sum[:]})
	if err != nil {
		return dst.Wrap(key, err)
	}
	if _, err := w.Write(data); err != nil {
		store.CloseWriter(w)
		return dst.Wrap(key, err)
	}
	if err := store.CloseWriter(w); err != nil {
		return dst.Wrap(key, err)
	}
	if local {
		name := dst.NameOf(key)
		if err := transfer.SyncPath(name); err != nil {
			return err
		}
		if err := transfer.SyncPath(filepath.Dir(name)); err != nil {
			return err
		}
	}
	back, err := dst.ReadAll(ctx, key, int64(len(data)))
	if err != nil {
		return err
	}
	if !bytes.Equal(back, data) {
		return fmt.Errorf("%s: reads back different from what was written", dst.NameOf(key))
	}
	return nil
}
