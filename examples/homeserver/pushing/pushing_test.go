package pushing

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"
)

// TestMigrateAddsThread: a database whose notifications predate threads
// gets the column, its rows in the main timeline; a second run is a no-op.
func TestMigrateAddsThread(t *testing.T) {
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.Exec(`CREATE TABLE notifications (id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, room_id TEXT NOT NULL,
		event_id TEXT NOT NULL, stream INTEGER NOT NULL, actions BLOB NOT NULL, highlight INTEGER NOT NULL, ts INTEGER NOT NULL);
		INSERT INTO notifications (user_id, room_id, event_id, stream, actions, highlight, ts) VALUES ('@u:x', '!r:x', '$e', 1, '[]', 0, 0)`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := Migrate(ctx, db); err != nil {
			t.Fatal(err)
		}
	}
	var thread string
	if err := db.QueryRow(`SELECT thread FROM notifications`).Scan(&thread); err != nil || thread != MainThread {
		t.Fatalf("thread %q, %v", thread, err)
	}
}

func TestThreadOfAndReadMarks(t *testing.T) {
	cases := map[string]string{
		`{"content":{"body":"x"}}`: MainThread,
		`{"content":{"m.relates_to":{"rel_type":"m.thread","event_id":"$root"}}}`: "$root",
		`{"content":{"m.relates_to":{"rel_type":"m.reference","event_id":"$r"}}}`: MainThread,
		`{"content":{"m.relates_to":{"rel_type":"m.thread"}}}`:                    MainThread,
		`{"content":{"m.relates_to":"nonsense"}}`:                                 MainThread,
		`not json`: MainThread,
	}
	for raw, want := range cases {
		if got := ThreadOf([]byte(raw)); got != want {
			t.Errorf("ThreadOf(%s) = %q, want %q", raw, got, want)
		}
	}
	m := ReadMarks{Unthreaded: 5, Threads: map[string]int64{"$root": 9, MainThread: 7}}
	for _, c := range []struct {
		thread string
		stream int64
		want   bool
	}{{"$root", 9, true}, {"$root", 10, false}, {MainThread, 7, true}, {MainThread, 8, false}, {"$other", 5, true}, {"$other", 6, false}} {
		if got := m.Read(c.thread, c.stream); got != c.want {
			t.Errorf("Read(%s, %d) = %v", c.thread, c.stream, got)
		}
	}
}
