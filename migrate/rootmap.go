package migrate

import (
	"context"
	"strings"

	"github.com/fsnap/fsnap/store"
)

// RootMaps are the prefix maps that move the checkpoint root src as a
// whole to dst: from every spelling Flink may have written src's absolute
// paths in (file:/, file:///, a bare path; s3, s3a, s3n, s3p; wasb(s),
// abfs(s)) to dst's Flink path. The files a root's incremental checkpoints
// share are then copied once and stay shared, and every _metadata names
// them under dst; paths outside src are still made relative.
func RootMaps(ctx context.Context, src, dst string) ([]PrefixMap, error) {
	sl, err := store.Open(ctx, src)
	if err != nil {
		return nil, err
	}
	defer sl.Close()
	dl, err := openDestDir(ctx, dst)
	if err != nil {
		return nil, err
	}
	defer dl.Close()
	key := strings.TrimSuffix(dl.Prefix, "/")
	nw, err := dl.FlinkPathOf(key)
	if err != nil {
		return nil, err
	}
	old := strings.TrimSuffix(sl.Prefix, "/")
	var spellings []string
	switch sl.Scheme {
	case "file":
		spellings = []string{"file:/" + old, "file:///" + old, "/" + old}
	case "s3":
		for _, s := range []string{"s3", "s3a", "s3n", "s3p"} {
			spellings = append(spellings, s+"://"+sl.Name+"/"+old)
		}
	case "azblob":
		if acct := sl.Account(); acct != "" {
			for _, s := range []string{"wasbs", "wasb"} {
				spellings = append(spellings, s+"://"+sl.Name+"@"+acct+".blob.core.windows.net/"+old)
			}
			for _, s := range []string{"abfss", "abfs"} {
				spellings = append(spellings, s+"://"+sl.Name+"@"+acct+".dfs.core.windows.net/"+old)
			}
		}
	default:
		p, err := sl.FlinkPathOf(old)
		if err != nil {
			return nil, err
		}
		spellings = []string{p}
	}
	maps := make([]PrefixMap, 0, len(spellings))
	for _, s := range spellings {
		m := PrefixMap{Old: strings.TrimSuffix(s, "/"), New: strings.TrimSuffix(nw, "/")}
		// An s3a:// root stays s3a:// on another S3 bucket: the same Flink file system restores it.
		if sl.Scheme == dl.Scheme && sl.Scheme == "s3" {
			m.New = s[:strings.Index(s, "://")] + strings.TrimPrefix(m.New, "s3")
		}
		maps = append(maps, m)
	}
	return maps, nil
}
