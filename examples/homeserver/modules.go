package main

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/federation"
)

// The smaller client API modules: reporting, timestamps, the user
// directory. OpenID tokens are a clientapi.MemoryOpenID shared with the
// federation server's userinfo endpoint.

// modulesSchema is added to the database on start (idempotent).
const modulesSchema = `
CREATE TABLE IF NOT EXISTS reports (
	id       INTEGER PRIMARY KEY AUTOINCREMENT,
	reporter TEXT NOT NULL,
	room_id  TEXT NOT NULL DEFAULT '',
	event_id TEXT NOT NULL DEFAULT '',
	user_id  TEXT NOT NULL DEFAULT '',
	reason   TEXT NOT NULL,
	ts       INTEGER NOT NULL
);
`

var (
	_ clientapi.Reports       = (*Client)(nil)
	_ clientapi.Timestamps    = (*Client)(nil)
	_ clientapi.UserDirectory = (*Client)(nil)
)

// Report implements clientapi.Reports: an event report needs the event to
// be visible to the reporter, who must be joined to the room; a room or
// user report needs the room or user to exist here (the spec allows
// hiding that; this server does not, as the reference server does not).
func (c *Client) Report(ctx context.Context, who clientapi.Identity, r clientapi.Report) error {
	switch {
	case r.EventID != "":
		notFound := clientapi.NotFound("the event was not found or you are not joined to the room")
		if m, err := c.membership(ctx, r.RoomID, who.UserID); err != nil {
			return err
		} else if m != "join" {
			return notFound
		}
		se, err := c.rooms.Event(ctx, r.EventID)
		if err != nil || se == nil || se.Event.RoomID() != r.RoomID || se.Status != federation.Accepted {
			return notFound
		}
	case r.UserID != "":
		var n int
		if err := c.db.queryRow(ctx, `SELECT count(*) FROM users WHERE user_id = ?`, r.UserID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return clientapi.NotFound("the user was not found")
		}
	default:
		if _, err := c.rooms.Version(r.RoomID); err != nil {
			return clientapi.NotFound("the room was not found")
		}
	}
	_, err := c.db.w.ExecContext(ctx, `INSERT INTO reports (reporter, room_id, event_id, user_id, reason, ts) VALUES (?, ?, ?, ?, ?, ?)`,
		who.UserID, r.RoomID, r.EventID, r.UserID, r.Reason, time.Now().UnixMilli())
	if err == nil {
		c.log.Info("content reported", "reporter", who.UserID, "room", r.RoomID, "event", r.EventID, "user", r.UserID)
	}
	return err
}

// TimestampToEvent implements clientapi.Timestamps from the events of the
// room this server has, within what the user may see.
func (c *Client) TimestampToEvent(ctx context.Context, who clientapi.Identity, roomID string, ts int64, dir string) (string, int64, error) {
	until, err := c.visibleUntil(ctx, roomID, who.UserID)
	if err != nil {
		return "", 0, err
	}
	if until < 0 {
		return "", 0, c.forbiddenRoom()
	}
	q := `SELECT event_id, origin_ts FROM events WHERE room_id = ? AND status = ? AND state_after != 0 AND stream <= ? AND origin_ts >= ? ORDER BY origin_ts, stream LIMIT 1`
	if dir == "b" {
		q = `SELECT event_id, origin_ts FROM events WHERE room_id = ? AND status = ? AND state_after != 0 AND stream <= ? AND origin_ts <= ? ORDER BY origin_ts DESC, stream DESC LIMIT 1`
	}
	var id string
	var at int64
	err = c.db.queryRow(ctx, q, roomID, federation.Accepted, until, ts).Scan(&id, &at)
	if err == sql.ErrNoRows {
		return "", 0, clientapi.NotFound("no event found in that direction from that time")
	}
	return id, at, err
}

// SearchUsers implements clientapi.UserDirectory as the reference server
// does by default: the users who share a room with the searcher or are in
// a public room, matched on user ID and display name, every word of the
// term as the start of a word (case aside).
func (c *Client) SearchUsers(ctx context.Context, who clientapi.Identity, term string, limit int) ([]clientapi.UserResult, bool, error) {
	rows, err := c.db.query(ctx, `
		SELECT cs.state_key, coalesce(json_extract(e.json, '$.content.displayname'), ''), coalesce(json_extract(e.json, '$.content.avatar_url'), '')
		FROM current_state cs JOIN events e ON e.event_id = cs.event_id
		WHERE cs.type = 'm.room.member' AND cs.membership = 'join' AND (
			cs.room_id IN (SELECT room_id FROM current_state WHERE type = 'm.room.member' AND state_key = ? AND membership = 'join')
			OR cs.room_id IN (SELECT j.room_id FROM current_state j JOIN events je ON je.event_id = j.event_id
				WHERE j.type = 'm.room.join_rules' AND j.state_key = '' AND json_extract(je.json, '$.content.join_rule') = 'public'))`, who.UserID)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	words := strings.Fields(strings.ToLower(term))
	found := map[string]clientapi.UserResult{}
	for rows.Next() {
		var u clientapi.UserResult
		var dn, av any
		if err := rows.Scan(&u.UserID, &dn, &av); err != nil {
			return nil, false, err
		}
		u.DisplayName, _ = dn.(string)
		u.AvatarURL, _ = av.(string)
		if _, seen := found[u.UserID]; seen || !userMatches(u, words) {
			continue
		}
		found[u.UserID] = u
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	out := make([]clientapi.UserResult, 0, len(found))
	for _, u := range found {
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b clientapi.UserResult) int { return strings.Compare(a.UserID, b.UserID) })
	limited := len(out) > limit
	if limited {
		out = out[:limit]
	}
	return out, limited, nil
}

// userMatches reports whether every word starts a word of the user ID or
// display name.
func userMatches(u clientapi.UserResult, words []string) bool {
	if len(words) == 0 {
		return false
	}
	hay := strings.FieldsFunc(strings.ToLower(u.UserID+" "+u.DisplayName), func(r rune) bool {
		return r == ' ' || r == '@' || r == ':' || r == '.' || r == '_' || r == '-' || r == '='
	})
	for _, w := range words {
		w = strings.Trim(w, "@:")
		if !slices.ContainsFunc(hay, func(h string) bool { return strings.HasPrefix(h, w) }) {
			return false
		}
	}
	return true
}
