package dbutil

import (
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	_ "modernc.org/sqlite"
)

func TestStrings(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE t (v TEXT, n INTEGER); INSERT INTO t VALUES ('b', 1), ('a', 2)`); err != nil {
		t.Fatal(err)
	}
	got, err := Strings(db.Query(`SELECT v FROM t ORDER BY v`))
	if err != nil || !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("%v %v", got, err)
	}
	if got, err := Strings(db.Query(`SELECT v FROM t WHERE n > 5`)); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("empty: %#v %v", got, err)
	}
	if _, err := Strings(db.Query(`SELECT nope FROM t`)); err == nil {
		t.Fatal("a bad query gave no error")
	}
	if _, err := Strings(db.Query(`SELECT NULL`)); err == nil {
		t.Fatal("a NULL scanned into a string gave no error")
	}
	boom := errors.New("boom")
	if _, err := Strings(nil, boom); err != boom {
		t.Fatalf("error passed through: %v", err)
	}
}
