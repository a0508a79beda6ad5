package testservers

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// duckdbScript runs one SQL statement with @duckdb/node-api and prints
// its rows as JSON.
const duckdbScript = `import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const r = await con.runAndReadAll(process.argv[2]);
process.stdout.write(JSON.stringify(r.getRowObjectsJson()));
`

// DuckDB runs sql in DuckDB (the npm package the install script puts in
// Tools()), an engine independent of fsnap's Arrow and Parquet code, and
// returns the rows, values as DuckDB renders them to JSON. Without node or
// the package the test is skipped, or fails when CI=true.
func DuckDB(t testing.TB, sql string) []map[string]any {
	t.Helper()
	dir := Tools()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@duckdb", "node-api")); err != nil {
		missing(t, "@duckdb/node-api is not installed in "+dir+" (run .ci/install-test-servers.sh)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing(t, "node is not installed")
	}
	script := filepath.Join(dir, "fsnap-duckdb-query.mjs")
	if err := os.WriteFile(script, []byte(duckdbScript), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(node, script, sql)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("duckdb %q: %v\n%s", sql, err, errb.String())
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatalf("duckdb %q: %v", sql, err)
	}
	return rows
}
