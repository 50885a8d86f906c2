package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"html"
	"io"
	"slices"
	"strings"

	"github.com/mxkit/mxkit/roomversion"
	"github.com/mxkit/mxkit/stateres"
)

// The page's parts. The written page holds them inline, with the room as
// JSON, so that it needs no other file and no network.
var (
	//go:embed assets/page.html
	pageHTML string
	//go:embed assets/page.css
	pageCSS string
	//go:embed assets/page.js
	pageJS string
)

type pageEvent struct {
	ID       string  `json:"id"`
	Type     string  `json:"type"`
	StateKey *string `json:"sk,omitempty"`
	Sender   string  `json:"sender"`
	Depth    int64   `json:"depth"`
	Prev     []int   `json:"p"`
	Auth     []int   `json:"a"`
	Rejected bool    `json:"rej,omitempty"`
	// JSON is the event as received (compacted).
	JSON string `json:"json"`
}

type pageCheck struct {
	Phase    string `json:"phase"`
	ID       string `json:"id"`
	Type     string `json:"type"`
	StateKey string `json:"sk"`
	Allowed  bool   `json:"allowed"`
	Rule     string `json:"rule,omitempty"`
	Reason   string `json:"reason,omitempty"`
}

type pageResolution struct {
	Title          string      `json:"title"`
	Algorithm      string      `json:"algorithm"`
	Labels         []string    `json:"labels"`
	SetSizes       []int       `json:"set_sizes"`
	Conflicts      [][]string  `json:"conflicts"` // [type, state key, set 1's ID, ..., resolved ID]
	Conflicted     []string    `json:"conflicted"`
	AuthDifference []string    `json:"auth_difference"`
	Subgraph       []string    `json:"subgraph"`
	FullConflicted []string    `json:"full_conflicted"`
	PowerEvents    []string    `json:"power_events"`
	Mainline       []string    `json:"mainline"`
	Others         []string    `json:"others"`
	Checks         []pageCheck `json:"checks"`
	Result         [][3]string `json:"result"` // sorted [type, state key, ID]
	V21            bool        `json:"v21"`
	V1             bool        `json:"v1"`
}

type pageData struct {
	RoomID     string          `json:"room_id"`
	Version    string          `json:"version"`
	Source     string          `json:"source"`
	Events     []pageEvent     `json:"events"`
	Tips       []int           `json:"tips"`
	Forks      []int           `json:"forks"`
	Resolution *pageResolution `json:"resolution"`
	Note       string          `json:"note,omitempty"`
}

func sortedKeys(m stateres.StateMap) []stateres.StateKey {
	keys := make([]stateres.StateKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b stateres.StateKey) int {
		return strings.Compare(a.Type+"\x00"+a.StateKey, b.Type+"\x00"+b.StateKey)
	})
	return keys
}

// conflictRows lists, for each conflicted key, the event of each state set
// ("" where a set has none) and the resolved event.
func conflictRows(res *resolution) [][]string {
	var rows [][]string
	for _, k := range res.Trace.ConflictedKeys {
		row := []string{k.Type, k.StateKey}
		for _, s := range res.Sets {
			row = append(row, s[k])
		}
		rows = append(rows, append(row, res.Result[k]))
	}
	return rows
}

func buildPage(r *room, res *resolution, note string) *pageData {
	d := &pageData{RoomID: r.roomID, Version: r.version.ID, Source: r.source, Tips: r.tips(), Forks: r.forks(), Note: note}
	if d.Tips == nil {
		d.Tips = []int{}
	}
	if d.Forks == nil {
		d.Forks = []int{}
	}
	for i, ev := range r.events {
		pe := pageEvent{ID: ev.ID(), Type: ev.Type(), Sender: ev.Sender(), Depth: ev.Depth(), Prev: r.parents[i], Auth: []int{}, Rejected: r.rejected[i]}
		if pe.Prev == nil {
			pe.Prev = []int{}
		}
		if sk, ok := ev.StateKey(); ok {
			pe.StateKey = &sk
		}
		for _, a := range ev.AuthEventIDs() {
			if j, ok := r.index[a]; ok {
				pe.Auth = append(pe.Auth, j)
			}
		}
		var b bytes.Buffer
		if json.Compact(&b, ev.JSON()) == nil {
			pe.JSON = b.String()
		} else {
			pe.JSON = string(ev.JSON())
		}
		d.Events = append(d.Events, pe)
	}
	if res != nil {
		t := &res.Trace
		pr := &pageResolution{
			Title: res.Title, Algorithm: t.Algorithm.String(), Labels: res.Labels,
			Conflicts: conflictRows(res), Conflicted: t.Conflicted, AuthDifference: t.AuthDifference,
			Subgraph: t.Subgraph, FullConflicted: t.FullConflicted, PowerEvents: t.PowerEvents,
			Mainline: t.Mainline, Others: t.Others, Checks: []pageCheck{}, Result: [][3]string{},
			V21: r.version.StateRes == roomversion.StateResV21, V1: r.version.StateRes == roomversion.StateResV1,
		}
		for _, s := range res.Sets {
			pr.SetSizes = append(pr.SetSizes, len(s))
		}
		for _, c := range t.Checks {
			pr.Checks = append(pr.Checks, pageCheck{Phase: string(c.Phase), ID: c.EventID, Type: c.Type, StateKey: c.StateKey, Allowed: c.Allowed, Rule: c.Rule, Reason: c.Reason})
		}
		for _, k := range sortedKeys(res.Result) {
			pr.Result = append(pr.Result, [3]string{k.Type, k.StateKey, res.Result[k]})
		}
		d.Resolution = pr
	}
	return d
}

// writePage writes the self-contained HTML page.
func writePage(w io.Writer, d *pageData) error {
	// encoding/json escapes <, > and & inside strings, so the data cannot
	// end the script element it sits in.
	data, err := json.Marshal(d)
	if err != nil {
		return err
	}
	title := "State resolution explorer: " + d.RoomID
	page := strings.NewReplacer(
		"{{TITLE}}", html.EscapeString(title),
		"{{CSS}}", pageCSS,
		"{{DATA}}", string(data),
		"{{JS}}", pageJS,
	).Replace(pageHTML)
	_, err = io.WriteString(w, page)
	return err
}
