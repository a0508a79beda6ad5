// Package migrate moves and converts Flink snapshots.
//
// Relocation (relocate*.go) copies a snapshot to another directory, bucket
// or store so that it restores from there. Files named relative to
// _metadata are copied beside the new _metadata. Files named by absolute
// path (shared/ files of incremental checkpoints, entropy-injected paths,
// files in other snapshots' folders, file-merging segments, changelog
// files) are copied into the destination and their handles rewritten as
// relative ones, so the result is self-contained; or, with prefix maps
// (moving a whole checkpoint root), rewritten by prefix and copied once to
// the mapped place. The new _metadata is written last, by format's writer,
// only after every file is copied and checked: an interrupted relocation
// never leaves a valid-looking snapshot, and re-running it resumes.
package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/fsnap/fsnap/format"
	"github.com/fsnap/fsnap/internal/transfer"
	"github.com/fsnap/fsnap/snapshot"
	"github.com/fsnap/fsnap/snapshot/source"
	"github.com/fsnap/fsnap/store"
)

// RelocateOptions control a relocation.
type RelocateOptions struct {
	// Maps rewrite absolute paths by prefix instead of making them
	// relative; the files are copied to the mapped place.
	Maps []PrefixMap
	// Transfers tune the copies.
	Transfers Transfers
	// Allow are folders outside the source snapshot's checkpoint root
	// whose files it may reference (and relocation copy); paths elsewhere
	// are refused (store.ErrOutside).
	Allow []store.Scope

	engine *transfer.Engine // RelocateAll's, shared by its snapshots
}

// PrefixMap rewrites absolute paths that start with Old (a whole path
// element) to start with New.
type PrefixMap struct {
	Old, New string
}

// ParseMap parses OLDPREFIX=NEWPREFIX.
func ParseMap(s string) (PrefixMap, error) {
	old, nw, ok := strings.Cut(s, "=")
	old, nw = strings.TrimSuffix(old, "/"), strings.TrimSuffix(nw, "/")
	if !ok || old == "" || nw == "" {
		return PrefixMap{}, fmt.Errorf("map %q: want OLDPREFIX=NEWPREFIX", s)
	}
	if _, err := store.ParseFlinkPath(nw + "/x"); err != nil {
		return PrefixMap{}, fmt.Errorf("map %q: new prefix: %v", s, err)
	}
	return PrefixMap{Old: old, New: nw}, nil
}

// apply rewrites p when it is under the prefix.
func (m PrefixMap) apply(p string) (string, bool) {
	if rest, ok := strings.CutPrefix(p, m.Old); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
		return m.New + rest, true
	}
	return "", false
}

// HandleChange says how a file's handle changes.
type HandleChange string

const (
	Kept               HandleChange = "kept"                 // a relative handle, copied beside _metadata
	AbsoluteToRelative HandleChange = "absolute-to-relative" // copied into the destination, handle made relative
	SegmentToRelative  HandleChange = "segment-to-relative"  // a file-merging segment extracted into its own file
	Mapped             HandleChange = "mapped"               // path rewritten by --map, copied to the mapped place
	AbsoluteToAbsolute HandleChange = "absolute-to-absolute" // version 2 (no relative handles): absolute path into the destination
)

// PlanFile is one object the relocation copies.
type PlanFile struct {
	From    string       `json:"from"`
	To      string       `json:"to"`
	Bytes   int64        `json:"bytes"`
	Offset  int64        `json:"offset,omitempty"` // segment extraction: the range of From
	Range   bool         `json:"range,omitempty"`
	Ref     string       `json:"ref"` // what the new _metadata names: relative name or absolute path
	Change  HandleChange `json:"change"`
	Handles int          `json:"handles"` // handles referring to it
}

// RelocatePlan is what relocating one snapshot will do. Close it when done.
type RelocatePlan struct {
	Src           string     `json:"src"` // source snapshot directory
	Dst           string     `json:"dst"` // destination directory
	Version       int32      `json:"version"`
	Files         []PlanFile `json:"files"`
	Bytes         int64      `json:"bytes"`             // bytes to copy (all files)
	Rewritten     int        `json:"rewritten_handles"` // handles whose reference changes
	SelfContained bool       `json:"self_contained"`    // every file of the result is relative or inline
	// Done is set when the destination already holds this very _metadata
	// (a finished earlier run).
	Done     bool          `json:"already_relocated"`
	Problems []FileProblem `json:"problems,omitempty"`
	Warnings []string      `json:"warnings,omitempty"`
	// Metadata is the new _metadata.
	Metadata []byte `json:"-"`

	opts       RelocateOptions
	engine     *transfer.Engine
	src        *source.Source
	dst        *store.Location
	dstMetaKey string
	srcPaths   *store.Resolver // absolute paths of the source snapshot
	dstPaths   *store.Resolver // --map targets
	xfer       []transfer.File
}

// FileProblem is one file that stops a relocation.
type FileProblem struct {
	File    string `json:"file"`
	Problem string `json:"problem"` // missing, size-mismatch, checksum-mismatch, conflict, io, unreadable
	Message string `json:"message"`
}

// RelocateStatus is a relocation's outcome.
type RelocateStatus string

const (
	Relocated        RelocateStatus = "relocated"
	AlreadyRelocated RelocateStatus = "already-relocated"
	Planned          RelocateStatus = "planned" // dry run
	FailedStatus     RelocateStatus = "failed"
)

// RelocateReport is the outcome of relocating one snapshot.
type RelocateReport struct {
	Src           string         `json:"src"`
	Dst           string         `json:"dst"`
	Status        RelocateStatus `json:"status"`
	Files         int            `json:"files"`
	Bytes         int64          `json:"bytes"`
	Copied        int            `json:"copied"`
	ServerSide    int            `json:"server_side"`
	Present       int            `json:"present"`
	Failed        int            `json:"failed"`
	BytesCopied   int64          `json:"bytes_copied"`
	Rewritten     int            `json:"rewritten_handles"`
	SelfContained bool           `json:"self_contained"`
	Problems      []FileProblem  `json:"problems,omitempty"`
	Warnings      []string       `json:"warnings,omitempty"`
	Error         string         `json:"error,omitempty"`
	Seconds       float64        `json:"seconds"`
	// Plan lists the files of a dry run.
	Plan []PlanFile `json:"plan,omitempty"`

	files []PlanFile // what the totals of a bulk run count once each
}

// RelocateError is a failed relocation; its report lists the problems.
type RelocateError struct {
	Report *RelocateReport
	msg    string
}

func (e *RelocateError) Error() string { return e.msg }

// Relocate plans and applies the relocation of the snapshot src (a
// directory, its _metadata, or a URL of either) into the directory dst.
func Relocate(ctx context.Context, src, dst string, opts RelocateOptions) (*RelocateReport, error) {
	start := time.Now()
	if opts.engine == nil {
		opts.engine = opts.Transfers.engine()
		defer opts.Transfers.feed(func() Progress { return progressOf(opts.engine) })()
	}
	p, err := PlanRelocation(ctx, src, dst, opts)
	defer p.Close()
	if err != nil {
		r := failedRelocateReport(src, dst, p, err, start)
		var re *RelocateError
		if errors.As(err, &re) {
			re.Report = r
		}
		return r, err
	}
	return p.Apply(ctx)
}

func failedRelocateReport(src, dst string, p *RelocatePlan, err error, start time.Time) *RelocateReport {
	r := &RelocateReport{Src: store.RedactURL(src), Dst: store.RedactURL(dst), Status: FailedStatus,
		Error: store.Redact(err.Error(), src, dst), Seconds: time.Since(start).Seconds()}
	if p != nil {
		r.Src, r.Dst, r.Files, r.Bytes = p.Src, p.Dst, len(p.Files), p.Bytes
		r.Problems, r.Warnings, r.files = p.Problems, p.Warnings, p.Files
	}
	return r
}

// PlanRelocation reads the source snapshot, decides where every file goes
// and how each handle changes, builds the new _metadata, and checks that
// every source file exists with the size _metadata records. It copies
// nothing. On a problem with the files it returns the plan (listing them)
// and an *RelocateError.
func PlanRelocation(ctx context.Context, src, dst string, opts RelocateOptions) (*RelocatePlan, error) {
	for _, m := range opts.Maps {
		if m.Old == "" || m.New == "" {
			return nil, fmt.Errorf("empty prefix map %q=%q", m.Old, m.New)
		}
	}
	snap, ss, err := source.Load(ctx, src)
	if err != nil {
		return nil, err
	}
	sr, m := ss.Ref, snap.Metadata // relocation rewrites the handles of this copy
	p := &RelocatePlan{opts: opts, src: ss, Src: snap.Dir, engine: opts.engine}
	if p.engine == nil {
		p.engine = opts.Transfers.engine()
	}
	fail := func(err error) (*RelocatePlan, error) {
		p.Close()
		return nil, err
	}
	p.Version = m.Version
	dl, err := openDestDir(ctx, dst)
	if err != nil {
		return fail(err)
	}
	p.dst, p.Dst = dl, strings.TrimSuffix(dl.NameOf(dl.Prefix), "/")
	if err := overlap(p.Src, p.Dst, "directory"); err != nil {
		return fail(err)
	}
	if p.dstMetaKey, err = dl.Key(format.MetadataFileName); err != nil {
		return fail(err)
	}
	b := &relocPlanner{ctx: ctx, p: p, sr: sr, dl: dl, byID: map[string]int{}, names: map[string]string{},
		used: map[string]bool{format.MetadataFileName: true}}
	p.srcPaths, p.dstPaths = store.NewResolver(sr.Location, true), store.NewResolver(dl, true)
	p.srcPaths.Confine(sr.RootScopes()...)
	p.srcPaths.Confine(opts.Allow...)
	if err := b.walk(m); err != nil {
		return fail(err)
	}
	if p.Metadata, err = format.AppendMetadata(nil, m); err != nil {
		return fail(fmt.Errorf("writing the new _metadata: %w", err))
	}
	if err := p.checkResult(); err != nil {
		return fail(err)
	}
	if err := b.listDst(); err != nil {
		return fail(err)
	}
	if err := p.checkExisting(ctx); err != nil {
		return fail(err)
	}
	if p.Done {
		// Finished earlier: its files were verified before that
		// _metadata was written; Apply only looks for missing ones.
		return p, nil
	}
	if err := b.listSrc(); err != nil {
		return fail(err)
	}
	// Every source must be there with its recorded size before anything
	// is copied.
	for i, err := range p.engine.Prepare(ctx, p.xfer) {
		if err != nil {
			p.Problems = append(p.Problems, problemFrom(p.Files[i].From, err))
		}
	}
	if len(p.Problems) > 0 {
		err := errors.New(relocProblemsMessage(p.Problems, "nothing was copied"))
		return p, &RelocateError{Report: failedRelocateReport(src, dst, p, err, time.Now()), msg: err.Error()}
	}
	return p, nil
}

// openDestDir opens the destination directory; a trailing _metadata is
// dropped (the destination is always a directory).
func openDestDir(ctx context.Context, ref string) (*store.Location, error) {
	l, err := store.Open(ctx, strings.TrimSuffix(ref, "/"+format.MetadataFileName))
	if err != nil {
		return nil, err
	}
	if l.Scheme == "file" {
		if fi, err := os.Stat(l.NameOf(strings.TrimSuffix(l.Prefix, "/"))); err == nil && !fi.IsDir() {
			l.Close()
			return nil, fmt.Errorf("%s: not a directory", l.Display)
		}
	}
	return l, nil
}

func problemFrom(file string, err error) FileProblem {
	pr := string(transfer.ProblemOf(err))
	if pr == "" {
		pr = string(transfer.IOError)
	}
	return FileProblem{File: file, Problem: pr, Message: err.Error()}
}

// relocProblemsMessage summarises problems for an error message.
func relocProblemsMessage(ps []FileProblem, tail string) string {
	var sb strings.Builder
	counts := map[string]int{}
	for _, p := range ps {
		counts[p.Problem]++
	}
	fmt.Fprintf(&sb, "%d file problem(s) (", len(ps))
	first := true
	for _, k := range []string{"missing", "size-mismatch", "checksum-mismatch", "conflict", "io"} {
		if counts[k] > 0 {
			if !first {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "%d %s", counts[k], k)
			first = false
		}
	}
	fmt.Fprintf(&sb, "); %s; _metadata not written:", tail)
	for i, p := range ps {
		if i == 10 {
			fmt.Fprintf(&sb, "\n  ... and %d more", len(ps)-10)
			break
		}
		fmt.Fprintf(&sb, "\n  %s", p.Message)
	}
	return sb.String()
}

// checkResult parses the new _metadata back and checks, through the
// snapshot model, which files the result references outside itself.
func (p *RelocatePlan) checkResult() error {
	m, err := format.ParseMetadata(p.Metadata)
	if err != nil {
		return fmt.Errorf("the new _metadata does not read back: %w", err)
	}
	s := snapshot.FromMetadata(p.Dst, int64(len(p.Metadata)), m)
	p.SelfContained = true
	outside := 0
	for _, f := range s.Files {
		if f.Unsafe != nil {
			return fmt.Errorf("the new _metadata has an unsafe relative name %q", f.Relative)
		}
		if f.Scope != snapshot.ScopeInline && f.Scope != snapshot.ScopeExclusive {
			p.SelfContained = false
			outside++
		}
	}
	if outside > 0 && len(p.opts.Maps) > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the result references %d file(s) by absolute path, as mapped (not relocatable alone: check the new root with verify --require self-contained=ROOT)", outside))
	} else if outside > 0 {
		p.Warnings = append(p.Warnings, fmt.Sprintf("the result references %d file(s) by absolute path (not self-contained)", outside))
	}
	return nil
}

// checkExisting looks at the destination's _metadata: none is the usual
// case; the same bytes mean an earlier run finished; other bytes are
// another snapshot, which is never overwritten.
func (p *RelocatePlan) checkExisting(ctx context.Context) error {
	ok, err := p.dst.Exists(ctx, p.dstMetaKey)
	if err != nil || !ok {
		return err
	}
	old, err := p.dst.ReadAll(ctx, p.dstMetaKey, snapshot.MaxMetadataSize)
	if err != nil {
		return err
	}
	if !bytes.Equal(old, p.Metadata) {
		return fmt.Errorf("%s already holds a snapshot with a different _metadata; not overwritten (choose an empty destination)", p.Dst)
	}
	p.Done = true
	return nil
}

// Close releases the stores the plan opened.
func (p *RelocatePlan) Close() {
	if p == nil {
		return
	}
	for _, r := range []*store.Resolver{p.srcPaths, p.dstPaths} {
		if r != nil {
			r.Close()
		}
	}
	if p.src != nil {
		p.src.Close()
		p.src = nil
	}
	if p.dst != nil {
		p.dst.Close()
		p.dst = nil
	}
}

// Apply copies every file, checks it, and then writes the new _metadata.
// It is safe to call again after a failure: files already copied and
// verified are skipped.
func (p *RelocatePlan) Apply(ctx context.Context) (*RelocateReport, error) {
	start := time.Now()
	r := &RelocateReport{Src: p.Src, Dst: p.Dst, Files: len(p.Files), Bytes: p.Bytes, Rewritten: p.Rewritten,
		SelfContained: p.SelfContained, Warnings: p.Warnings, Problems: p.Problems, files: p.Files}
	finish := func(err error) (*RelocateReport, error) {
		r.Seconds = time.Since(start).Seconds()
		if err != nil {
			r.Status, r.Error = FailedStatus, err.Error()
			var re *RelocateError
			if !errors.As(err, &re) {
				err = &RelocateError{Report: r, msg: err.Error()}
			} else {
				re.Report = r
			}
		}
		return r, err
	}
	if len(p.Problems) > 0 {
		return finish(errors.New(relocProblemsMessage(p.Problems, "nothing was copied")))
	}
	files := p.xfer
	if p.Done {
		files = p.stillNeeded(ctx)
	}
	results := p.engine.Copy(ctx, files)
	for i, res := range results {
		switch res.Outcome {
		case transfer.Copied:
			r.Copied++
			r.BytesCopied += res.Bytes
		case transfer.ServerSide:
			r.ServerSide++
			r.BytesCopied += res.Bytes
		case transfer.Present:
			r.Present++
		default:
			r.Failed++
			if res.Outcome == transfer.Failed {
				r.Problems = append(r.Problems, problemFrom(files[i].Src.Name(), res.Err))
			}
		}
	}
	if p.Done {
		r.Present += len(p.xfer) - len(files)
	}
	if r.Failed > 0 {
		if len(r.Problems) == 0 {
			r.Problems = append(r.Problems, FileProblem{Problem: "io", Message: ctx.Err().Error()})
		}
		return finish(&RelocateError{msg: relocProblemsMessage(r.Problems, fmt.Sprintf("%d of %d files not copied", r.Failed, len(files)))})
	}
	if err := p.writeMetadata(ctx); err != nil {
		return finish(err)
	}
	// A killed earlier run may have left temporary files beside them.
	if err := p.removeTemps(); err != nil {
		return finish(err)
	}
	r.Status = Relocated
	if p.Done && r.Copied+r.ServerSide == 0 {
		r.Status = AlreadyRelocated
	}
	return finish(nil)
}

// removeTemps removes the temporary files a killed run left beside the
// destination files and _metadata (local destinations only).
func (p *RelocatePlan) removeTemps() error {
	byLoc := map[*store.Location][]string{p.dst: {p.dstMetaKey}}
	for _, f := range p.xfer {
		byLoc[f.Dst.Loc] = append(byLoc[f.Dst.Loc], f.Dst.Key)
	}
	for l, keys := range byLoc {
		if err := l.RemoveTemps(keys); err != nil {
			return err
		}
	}
	return nil
}

// stillNeeded, for a destination whose _metadata is already the planned
// one, returns the files missing there or of another size. The others
// were verified before that _metadata was written; they are not read again.
func (p *RelocatePlan) stillNeeded(ctx context.Context) []transfer.File {
	var out []transfer.File
	for _, f := range p.xfer {
		if f.DstAttrs != nil && f.DstAttrs.Size == f.CopyLength() {
			continue
		}
		if !f.DstListed && f.DstAttrs == nil {
			if a, err := f.Dst.Loc.Stat(ctx, f.Dst.Key); err == nil && a.Size == f.CopyLength() {
				continue
			}
		}
		out = append(out, f)
	}
	return out
}

// writeMetadata publishes the new _metadata once every file is copied.
func (p *RelocatePlan) writeMetadata(ctx context.Context) error {
	dsts := make([]transfer.Object, len(p.xfer))
	for i, f := range p.xfer {
		dsts[i] = f.Dst
	}
	data := p.Metadata
	if p.Done {
		data = nil
	}
	return publishMetadata(ctx, p.dst, p.dstMetaKey, data, dsts, !p.opts.Transfers.NoSync)
}

// handleSlot is one place in _metadata that holds a stream handle, so that
// relocation can read it and put a rewritten handle back.
type handleSlot struct {
	h *format.StreamHandle
	// op is the operator state handle whose delegate this handleSlot is (nil
	// otherwise): a file-merging handle must become a plain one when its
	// segment delegate is rewritten.
	op    *format.OperatorStateHandle
	where string // for messages: operator, subtask and handleSlot
}

// handleSlots lists every stream handle slot of m in file order
// (format's walk).
func handleSlots(m *format.Metadata) []handleSlot {
	var out []handleSlot
	for n := range m.Walk() {
		if n.Stream != nil {
			out = append(out, handleSlot{h: n.Stream, op: n.Owner, where: n.Where(m)})
		}
	}
	return out
}

// relocPlanner builds a plan while walking the handles.
type relocPlanner struct {
	ctx   context.Context
	p     *RelocatePlan
	sr    *store.SnapshotRef
	dl    *store.Location
	byID  map[string]int    // copy identity -> index in p.Files
	names map[string]string // source identity -> name in the destination directory
	used  map[string]bool   // names taken in the destination directory
}

// walk plans every stream handle of m and rewrites the handles in place.
func (b *relocPlanner) walk(m *format.Metadata) error {
	slots := handleSlots(m)
	// Relative names keep their names; reserve them first so that files
	// brought in from elsewhere never take one.
	for _, s := range slots {
		if h, ok := (*s.h).(*format.RelativeFileHandle); ok {
			if err := format.CheckRelativePath(h.RelativePath); err != nil {
				return fmt.Errorf("%s: %s: %v", b.p.Src, s.where, err)
			}
			sk, err := b.sr.Key(h.RelativePath)
			if err != nil {
				return err
			}
			b.used[h.RelativePath] = true
			b.names[transfer.Object{Loc: b.sr.Location, Key: sk}.Name()] = h.RelativePath
		}
	}
	for _, s := range slots {
		if err := b.handleSlot(s); err != nil {
			return err
		}
	}
	return nil
}

func (b *relocPlanner) handleSlot(s handleSlot) error {
	switch h := (*s.h).(type) {
	case *format.RelativeFileHandle:
		sk, err := b.sr.Key(h.RelativePath)
		if err != nil {
			return err
		}
		dk, err := b.dl.Key(h.RelativePath)
		if err != nil {
			return err
		}
		src := transfer.Object{Loc: b.sr.Location, Key: sk}
		return b.add(s, transfer.File{Src: src, Dst: transfer.Object{Loc: b.dl, Key: dk}, Length: -1, Size: h.Size},
			h.RelativePath, Kept)
	case *format.FileHandle:
		if np, ok := b.mapped(h.Path); ok {
			src, dst, err := b.resolveMapped(s, h.Path, np)
			if err != nil {
				return err
			}
			*s.h = &format.FileHandle{Path: np, Size: h.Size}
			return b.add(s, transfer.File{Src: src, Dst: dst, Length: -1, Size: h.Size, Shared: true}, np, Mapped)
		}
		src, err := b.resolve(h.Path, false)
		if err != nil {
			return fmt.Errorf("%s: %w", s.where, err)
		}
		name := b.nameFor(src.Name(), path.Base(src.Key))
		dk, err := b.dl.Key(name)
		if err != nil {
			return err
		}
		dst := transfer.Object{Loc: b.dl, Key: dk}
		if b.p.Version < 3 {
			// Version 2 readers (Flink before 1.11) know no relative
			// handles: point at the copy by absolute path.
			np, err := dst.Loc.FlinkPathOf(dst.Key)
			if err != nil {
				return fmt.Errorf("%s: %w", s.where, err)
			}
			*s.h = &format.FileHandle{Path: np, Size: h.Size}
			return b.add(s, transfer.File{Src: src, Dst: dst, Length: -1, Size: h.Size}, np, AbsoluteToAbsolute)
		}
		*s.h = &format.RelativeFileHandle{RelativePath: name, Size: h.Size}
		return b.add(s, transfer.File{Src: src, Dst: dst, Length: -1, Size: h.Size}, name, AbsoluteToRelative)
	case *format.SegmentFileHandle:
		if np, ok := b.mapped(h.Path); ok {
			src, dst, err := b.resolveMapped(s, h.Path, np)
			if err != nil {
				return err
			}
			nh := *h
			nh.Path = np
			*s.h = &nh
			b.mapDirs(s.op)
			return b.add(s, transfer.File{Src: src, Dst: dst, Length: -1, Size: -1, MinSize: h.StartPos + h.Size, Shared: true}, np, Mapped)
		}
		src, err := b.resolve(h.Path, false)
		if err != nil {
			return fmt.Errorf("%s: %w", s.where, err)
		}
		id := fmt.Sprintf("%s#%d+%d", src.Name(), h.StartPos, h.Size)
		base := h.LogicalFileID
		if format.CheckRelativePath(base) != nil || strings.Contains(base, "/") {
			base = fmt.Sprintf("%s-%d", path.Base(src.Key), h.StartPos)
		}
		name := b.nameFor(id, base)
		dk, err := b.dl.Key(name)
		if err != nil {
			return err
		}
		*s.h = &format.RelativeFileHandle{RelativePath: name, Size: h.Size}
		if s.op != nil {
			s.op.FileMerging = nil // a plain operator state handle now
		}
		return b.addID(s, id, transfer.File{Src: src, Dst: transfer.Object{Loc: b.dl, Key: dk}, Offset: h.StartPos, Length: h.Size, Size: -1},
			name, SegmentToRelative)
	case *format.EmptySegmentFileHandle:
		if s.op == nil || s.op.FileMerging == nil {
			return nil
		}
		if len(b.p.opts.Maps) > 0 {
			b.mapDirs(s.op)
			return nil
		}
		// An empty file-merging operator state names its directories by
		// absolute path; as a plain handle with an empty inline stream it
		// restores the same (nothing) and names no place outside.
		s.op.FileMerging = nil
		*s.h = &format.ByteStreamHandle{}
		b.p.Rewritten++
	}
	return nil
}

// mapDirs rewrites a file-merging handle's directories by the maps.
func (b *relocPlanner) mapDirs(op *format.OperatorStateHandle) {
	if op == nil || op.FileMerging == nil {
		return
	}
	for _, d := range []*string{&op.FileMerging.TaskOwnedDir, &op.FileMerging.SharedDir} {
		if np, ok := b.mapped(*d); ok {
			*d = np
		} else if *d != "" {
			b.warn(fmt.Sprintf("file-merging directory %s is under no --map prefix; left as is", *d))
		}
	}
}

func (b *relocPlanner) warn(w string) {
	for _, x := range b.p.Warnings {
		if x == w {
			return
		}
	}
	b.p.Warnings = append(b.p.Warnings, w)
}

// resolveMapped resolves a path and its mapped form.
func (b *relocPlanner) resolveMapped(s handleSlot, p, np string) (src, dst transfer.Object, err error) {
	if src, err = b.resolve(p, false); err != nil {
		return src, dst, fmt.Errorf("%s: %w", s.where, err)
	}
	if dst, err = b.resolve(np, true); err != nil {
		return src, dst, fmt.Errorf("%s: mapped path: %w", s.where, err)
	}
	return src, dst, nil
}

func (b *relocPlanner) mapped(p string) (string, bool) {
	for _, m := range b.p.opts.Maps {
		if np, ok := m.apply(p); ok {
			return np, true
		}
	}
	return "", false
}

// add records a whole-file copy, once per source and destination.
func (b *relocPlanner) add(s handleSlot, f transfer.File, ref string, c HandleChange) error {
	return b.addID(s, f.Src.Name()+"\x00"+f.Dst.Name(), f, ref, c)
}

func (b *relocPlanner) addID(s handleSlot, id string, f transfer.File, ref string, c HandleChange) error {
	if c != Kept {
		b.p.Rewritten++
	}
	if i, ok := b.byID[id]; ok {
		pf, tf := &b.p.Files[i], &b.p.xfer[i]
		pf.Handles++
		if tf.Size != f.Size && tf.Length < 0 {
			if tf.Size < 0 || f.Size < 0 { // segments of one mapped physical file
				tf.MinSize = max(tf.MinSize, f.MinSize)
				return nil
			}
			return fmt.Errorf("%s: handles disagree on the size of %s (%d and %d bytes)", s.where, pf.From, tf.Size, f.Size)
		}
		return nil
	}
	b.byID[id] = len(b.p.Files)
	pf := PlanFile{From: f.Src.Name(), To: f.Dst.Name(), Bytes: f.CopyLength(), Ref: ref, Change: c, Handles: 1}
	if f.Length >= 0 {
		pf.Offset, pf.Range = f.Offset, true
	}
	b.p.Files = append(b.p.Files, pf)
	b.p.xfer = append(b.p.xfer, f)
	return nil
}

// nameFor returns the name in the destination directory for a file
// brought in from elsewhere: its own name when free, else the name with a
// hash of its source. The same source always gets the same name, so
// re-runs resume.
func (b *relocPlanner) nameFor(id, base string) string {
	if n, ok := b.names[id]; ok {
		return n
	}
	n := base
	if format.CheckRelativePath(n) != nil || strings.Contains(n, "/") || b.used[n] {
		sum := sha256.Sum256([]byte(id))
		n = base + "-" + hex.EncodeToString(sum[:4])
		if format.CheckRelativePath(base) != nil || strings.Contains(base, "/") {
			n = "file-" + hex.EncodeToString(sum[:8])
		}
		for i := 2; b.used[n]; i++ {
			n = fmt.Sprintf("%s-%d", n, i)
		}
	}
	b.used[n] = true
	b.names[id] = n
	return n
}

// resolve finds the object an absolute Flink path names, seen from the
// source snapshot (dst false) or the destination (dst true, for --map).
func (b *relocPlanner) resolve(raw string, dst bool) (transfer.Object, error) {
	fp, err := store.ParseFlinkPath(raw)
	if err != nil {
		return transfer.Object{}, err
	}
	r := b.p.srcPaths
	if dst {
		r = b.p.dstPaths
	}
	l, k, err := r.Resolve(b.ctx, fp)
	if err != nil {
		if fp.Store == "" {
			err = fmt.Errorf("%w (copy those files to a supported store first, or use --map)", err)
		}
		return transfer.Object{}, fmt.Errorf("%s: %w", store.RedactURL(raw), err)
	}
	return transfer.Object{Loc: l, Key: k}, nil
}

// inDir reports whether o is directly in l's directory.
func inDir(o transfer.Object, l *store.Location) bool {
	return o.Loc == l && strings.HasPrefix(o.Key, l.Prefix) && !strings.Contains(o.Key[len(l.Prefix):], "/")
}

// listDst sums the bytes to copy and fills in the destination attributes
// from one listing of the destination directory, instead of a stat per
// file.
func (b *relocPlanner) listDst() error {
	p := b.p
	for i := range p.xfer {
		p.Bytes += max(p.xfer[i].CopyLength(), 0)
	}
	got, err := listDirAttrs(b.ctx, b.dl)
	if err != nil {
		return err
	}
	for i := range p.xfer {
		f := &p.xfer[i]
		if inDir(f.Dst, b.dl) {
			f.DstAttrs, f.DstListed = got[f.Dst.Key], true
		}
	}
	return nil
}

// listSrc fills in the source attributes of the files in the snapshot
// directory from one listing.
func (b *relocPlanner) listSrc() error {
	p := b.p
	n := 0
	for _, f := range p.xfer {
		if inDir(f.Src, b.sr.Location) {
			n++
		}
	}
	if n < 2 {
		return nil
	}
	got, err := listDirAttrs(b.ctx, b.sr.Location)
	if err != nil {
		return err
	}
	for i := range p.xfer {
		f := &p.xfer[i]
		if a, ok := got[f.Src.Key]; ok && inDir(f.Src, b.sr.Location) {
			f.SrcAttrs = a
		}
	}
	return nil
}

// listDirAttrs lists the objects directly in a location's directory.
func listDirAttrs(ctx context.Context, l *store.Location) (map[string]*transfer.Attrs, error) {
	out := map[string]*transfer.Attrs{}
	for o, err := range l.List(ctx, l.Prefix, "/") {
		if err != nil {
			return nil, err
		}
		if !o.IsDir {
			out[o.Key] = transfer.AttrsOf(o)
		}
	}
	return out, nil
}

// overlap refuses a source and destination (names as NameOf gives them,
// without a trailing slash) that are one folder or lie one in the other:
// a copy inside its source nests a snapshot in a snapshot's folder, which
// the next root scan would take for another one.
func overlap(src, dst, what string) error {
	switch {
	case src == dst:
		return fmt.Errorf("%s: source and destination are the same %s", dst, what)
	case strings.HasPrefix(dst, src+"/"):
		return fmt.Errorf("%s: the destination lies inside the source %s %s", dst, what, src)
	case strings.HasPrefix(src, dst+"/"):
		return fmt.Errorf("%s: the source lies inside the destination %s %s", src, what, dst)
	}
	return nil
}
