package compat

import "github.com/fsnap/fsnap/snapshot"

// Support is a capability matrix cell.
type Support string

const (
	Supported   Support = "yes"
	Unsupported Support = "no"
	// Risky: works today, but Flink does not guarantee it.
	Risky Support = "risky"
)

// Operation is a row of Flink's capability matrix.
type Operation string

const (
	OpBackendChange      Operation = "state-backend-change"
	OpSPAWrite           Operation = "state-processor-api-writing"
	OpSPARead            Operation = "state-processor-api-reading"
	OpRelocatable        Operation = "self-contained-and-relocatable"
	OpSchemaEvolution    Operation = "schema-evolution"
	OpArbitraryUpgrade   Operation = "arbitrary-job-upgrade"
	OpNonArbitrary       Operation = "non-arbitrary-job-upgrade"
	OpMinorUpgrade       Operation = "flink-minor-version-upgrade"
	OpPatchUpgrade       Operation = "flink-patch-version-upgrade"
	OpRescaling          Operation = "rescaling"
	matrixSource                   = "Flink docs, ops/state/checkpoints_vs_savepoints.md, \"Capabilities and limitations\" (1.15+)"
	capabilityColumnNote           = "incremental and changelog checkpoints are aligned checkpoints in this table"
)

// Operations lists the matrix rows in Flink's order.
var Operations = []Operation{OpBackendChange, OpSPAWrite, OpSPARead, OpRelocatable, OpSchemaEvolution,
	OpArbitraryUpgrade, OpNonArbitrary, OpMinorUpgrade, OpPatchUpgrade, OpRescaling}

// column is one snapshot kind's column of the matrix (Flink's table orders
// canonical savepoint, native savepoint, aligned checkpoint, unaligned
// checkpoint).
type column map[Operation]Support

var (
	canonicalColumn = column{OpBackendChange: Supported, OpSPAWrite: Supported, OpSPARead: Supported, OpRelocatable: Supported,
		OpSchemaEvolution: Supported, OpArbitraryUpgrade: Supported, OpNonArbitrary: Supported, OpMinorUpgrade: Supported,
		OpPatchUpgrade: Supported, OpRescaling: Supported}
	nativeColumn = column{OpBackendChange: Unsupported, OpSPAWrite: Unsupported, OpSPARead: Risky, OpRelocatable: Supported,
		OpSchemaEvolution: Risky, OpArbitraryUpgrade: Supported, OpNonArbitrary: Supported, OpMinorUpgrade: Supported,
		OpPatchUpgrade: Supported, OpRescaling: Supported}
	alignedColumn = column{OpBackendChange: Unsupported, OpSPAWrite: Unsupported, OpSPARead: Risky, OpRelocatable: Unsupported,
		OpSchemaEvolution: Risky, OpArbitraryUpgrade: Supported, OpNonArbitrary: Supported, OpMinorUpgrade: Supported,
		OpPatchUpgrade: Supported, OpRescaling: Supported}
	unalignedColumn = column{OpBackendChange: Unsupported, OpSPAWrite: Unsupported, OpSPARead: Unsupported, OpRelocatable: Unsupported,
		OpSchemaEvolution: Risky, OpArbitraryUpgrade: Unsupported, OpNonArbitrary: Unsupported, OpMinorUpgrade: Unsupported,
		OpPatchUpgrade: Supported, OpRescaling: Supported}
)

// columnOf maps a snapshot kind to its column.
func columnOf(k snapshot.Kind) column {
	switch k {
	case snapshot.CanonicalSavepoint:
		return canonicalColumn
	case snapshot.NativeSavepoint:
		return nativeColumn
	case snapshot.UnalignedCheckpoint:
		return unalignedColumn
	}
	return alignedColumn // aligned, incremental and changelog checkpoints; unknown kinds are treated as the weakest restorable one
}

// Capability is the matrix cell of one operation for this snapshot's kind.
type Capability struct {
	Operation Operation `json:"operation"`
	Support   Support   `json:"support"`
	Source    string    `json:"source"`
}

// Capabilities is the matrix column of kind k.
func Capabilities(k snapshot.Kind) []Capability {
	col := columnOf(k)
	out := make([]Capability, 0, len(Operations))
	for _, op := range Operations {
		src := matrixSource
		if k == snapshot.IncrementalCheckpoint || k == snapshot.ChangelogCheckpoint {
			src += "; " + capabilityColumnNote
		}
		out = append(out, Capability{Operation: op, Support: col[op], Source: src})
	}
	return out
}
