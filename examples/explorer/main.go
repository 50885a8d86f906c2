// Command explorer shows how a Matrix room's state is resolved: it draws the
// room's event DAG and explains one state resolution step by step, as a
// self-contained HTML page (inline SVG, CSS and JavaScript; no other file,
// no network) or as text for terminals and logs.
//
// The room comes from one of:
//
//	explorer -in room.json           a JSON file: an array of events, or the
//	                                 input of mxtool resolve {"state_sets":
//	                                 [[event ID, ...], ...], "events": [...]},
//	                                 optionally with "room_version" and
//	                                 "rejected" (IDs of events rejected on
//	                                 receipt)
//	explorer -gen -seed 7 -members 300 -forks 3
//	                                 the room generator (stateres/roomgen)
//	explorer -db homeserver.db [-room !id:server]
//	                                 the example homeserver's SQLite database
//	                                 (read-only)
//
// The resolution explained is, in this order of preference: the state
// before the event named by -at (the merge of its prev events' states); the
// state sets the JSON file names; the states at the room's forward
// extremities. Without a stored state (JSON files), the state after each
// event is computed by walking the room from its start, resolving where
// branches merge.
//
// The page marks forks (events with several children), forward extremities
// and merges; for the resolution it lists the conflicted keys with each
// set's event, the conflicted set, the auth difference, the conflicted state
// subgraph (room version 12), the power events in their sort order, the
// mainline and the other events in mainline order, and every check of the
// iterative auth checks with the rule that refused an event. Clicking an
// event shows its JSON. Long linear runs of events are drawn as one node
// that expands on a click, so rooms of tens of thousands of events stay
// usable.
//
// The algorithms are in the specification: content/rooms/v1.md, "State
// resolution"; content/rooms/fragments/v2-state-res.md; content/rooms/v12.md,
// "State resolution".
//
// Usage:
//
//	explorer [-in FILE | -gen [flags] | -db FILE [-room ID]] [-at EVENT_ID] [-o page.html | -text]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres/roomgen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: tests call it directly. Exit status 0
// on success, 2 for unusable flags or input, 1 for other failures.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explorer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := fs.String("in", "", "read the room from this JSON `file`")
	gen := fs.Bool("gen", false, "generate the room with the room generator")
	seed := fs.Uint64("seed", 1, "-gen: the generator's seed")
	members := fs.Int("members", 30, "-gen: users who join in the shared history")
	forks := fs.Int("forks", 2, "-gen: concurrent branches after the history")
	forkEvents := fs.Int("fork-events", 10, "-gen: state events each branch tries to add")
	dbPath := fs.String("db", "", "read the room from the example homeserver's SQLite database `file`")
	roomID := fs.String("room", "", "-db: the room to read (needed when the database holds several)")
	versionID := fs.String("room-version", "", "the room version (default: the file's \"room_version\", the create event's, or for -gen the generator's default)")
	at := fs.String("at", "", "explain the resolution of the state before this merge `event`")
	outPath := fs.String("o", "", "write the HTML page to this `file` (default: standard output)")
	text := fs.Bool("text", false, "print the explanation as text instead of a page")
	full := fs.Bool("full", false, "-text: print the whole resolved state, not only the conflicted keys")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: explorer [-in FILE | -gen [flags] | -db FILE [-room ID]] [-at EVENT_ID] [-o page.html | -text]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 1 && *in == "" {
		*in = fs.Arg(0)
	} else if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "explorer: unexpected argument %q\n", fs.Arg(fs.NArg()-1))
		return 2
	}
	sources := 0
	for _, set := range []bool{*in != "", *gen, *dbPath != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		fmt.Fprintln(stderr, "explorer: give exactly one of -in FILE, -gen and -db FILE")
		return 2
	}
	ctx := context.Background()
	var r *room
	var err error
	switch {
	case *in != "":
		r, err = loadFile(*in, *versionID)
	case *gen:
		cfg := roomgen.Config{Seed: *seed, Members: *members, Forks: *forks, ForkEvents: *forkEvents, ReadableIDs: true}
		if *versionID != "" {
			v, ok := roomversion.Lookup(*versionID)
			if !ok {
				fmt.Fprintf(stderr, "explorer: unknown room version %q\n", *versionID)
				return 2
			}
			cfg.Version = v
		}
		r, err = loadGenerated(cfg)
	default:
		r, err = loadDB(ctx, *dbPath, *roomID)
	}
	if err != nil {
		fmt.Fprintf(stderr, "explorer: %v\n", err)
		return 2
	}
	var res *resolution
	note := ""
	if *at != "" || len(r.stateSets) > 0 || len(r.tips()) > 1 {
		res, err = r.chooseResolution(ctx, *at)
		if err != nil {
			fmt.Fprintf(stderr, "explorer: %v\n", err)
			return 2
		}
	} else {
		note = "Nothing to resolve: the room has one forward extremity. Use -at with a merge event to explain the state before it."
	}

	var out io.Writer = stdout
	if *outPath != "" && !*text {
		f, err := os.Create(*outPath)
		if err != nil {
			fmt.Fprintf(stderr, "explorer: %v\n", err)
			return 1
		}
		defer f.Close()
		out = f
	}
	if *text {
		err = writeText(out, r, res, note, *full)
	} else {
		err = writePage(out, buildPage(r, res, note))
	}
	if err != nil {
		fmt.Fprintf(stderr, "explorer: writing: %v\n", err)
		return 1
	}
	if f, ok := out.(*os.File); ok && f != os.Stdout {
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "explorer: %v\n", err)
			return 1
		}
	}
	return 0
}

// writeText prints the room and the resolution for terminals and logs.
func writeText(w io.Writer, r *room, res *resolution, note string, full bool) error {
	var b strings.Builder
	states := 0
	for _, ev := range r.events {
		if ev.IsState() {
			states++
		}
	}
	fmt.Fprintf(&b, "room %s, version %s, %d events (%d state)", r.roomID, r.version.ID, len(r.events), states)
	if r.source != "" {
		fmt.Fprintf(&b, " from %s", r.source)
	}
	b.WriteString("\n")
	names := func(is []int) string {
		parts := make([]string, len(is))
		for k, i := range is {
			parts[k] = r.events[i].ID()
		}
		return strings.Join(parts, " ")
	}
	fmt.Fprintf(&b, "forks (%d): %s\n", len(r.forks()), names(r.forks()))
	fmt.Fprintf(&b, "forward extremities (%d): %s\n", len(r.tips()), names(r.tips()))
	if res == nil {
		fmt.Fprintf(&b, "\n%s\n", note)
		_, err := io.WriteString(w, b.String())
		return err
	}
	fmt.Fprintf(&b, "\nresolution: %s\n", res.Title)
	for k, s := range res.Sets {
		fmt.Fprintf(&b, "  set %d: %s (%d entries)\n", k+1, res.Labels[k], len(s))
	}
	b.WriteString("\n")
	b.WriteString(res.Trace.String())
	fmt.Fprintf(&b, "\nconflicted keys, each set's event and the resolved one:\n")
	for _, row := range conflictRows(res) {
		fmt.Fprintf(&b, "  (%s, %q):", row[0], row[1])
		for k, id := range row[2 : len(row)-1] {
			if id == "" {
				id = "-"
			}
			fmt.Fprintf(&b, " set %d %s;", k+1, id)
		}
		resolved := row[len(row)-1]
		if resolved == "" {
			resolved = "(none)"
		}
		fmt.Fprintf(&b, " resolved %s\n", resolved)
	}
	if full {
		fmt.Fprintf(&b, "\nresolved state (%d entries):\n", len(res.Result))
		for _, k := range sortedKeys(res.Result) {
			fmt.Fprintf(&b, "  (%s, %q) %s\n", k.Type, k.StateKey, res.Result[k])
		}
	} else {
		fmt.Fprintf(&b, "\nresolved state: %d entries (-full lists them)\n", len(res.Result))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
