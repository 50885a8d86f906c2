package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/federation"
)

// The published room directory (content/client-server-api/_index.md
// "Published room directory"; content/server-server-api.md "Public Room
// Directory"): rooms are published by createRoom with visibility public or
// PUT /directory/list/room; GET/POST /publicRooms lists them, and with
// ?server= (or "server" in POST) lists another server's over federation;
// other servers list ours through GET/POST /_matrix/federation/v1/publicRooms.

// directorySchema is added to the database on start (idempotent).
const directorySchema = `
CREATE TABLE IF NOT EXISTS room_directory (
	room_id TEXT PRIMARY KEY,
	ts      INTEGER NOT NULL
);
-- appservice_room_list: the rooms application services publish per network
-- (thirdparty.go).
CREATE TABLE IF NOT EXISTS appservice_room_list (
	service_id TEXT NOT NULL,
	network_id TEXT NOT NULL,
	room_id    TEXT NOT NULL,
	ts         INTEGER NOT NULL,
	PRIMARY KEY (service_id, network_id, room_id)
);
`

var (
	_ clientapi.PublishedRooms = (*Client)(nil)
	_ federation.RoomDirectory = directory{}
)

// Visibility implements clientapi.PublishedRooms.
func (c *Client) Visibility(ctx context.Context, roomID string) (bool, error) {
	if _, err := c.rooms.Version(roomID); err != nil {
		return false, clientapi.NotFound("unknown room")
	}
	var n int
	err := c.db.queryRow(ctx, `SELECT count(*) FROM room_directory WHERE room_id = ?`, roomID).Scan(&n)
	return n > 0, err
}

// SetVisibility implements clientapi.PublishedRooms: a joined member with
// the power to set the room's canonical alias may publish it (the
// reference server's rule for users who are not server admins).
func (c *Client) SetVisibility(ctx context.Context, who clientapi.Identity, roomID string, public bool) error {
	if m, err := c.membership(ctx, roomID, who.UserID); err != nil {
		return err
	} else if m != "join" {
		return clientapi.Forbidden("you are not in the room")
	}
	pl, err := c.rooms.powerLevels(ctx, roomID)
	if err != nil {
		return err
	}
	if pl.UserLevelExact(who.UserID).Less(pl.EventLevelExact("m.room.canonical_alias", true)) {
		return clientapi.Forbidden("publishing the room takes the power to set its canonical alias")
	}
	return c.setPublished(ctx, roomID, public)
}

func (c *Client) setPublished(ctx context.Context, roomID string, public bool) error {
	var err error
	if public {
		_, err = c.db.w.ExecContext(ctx, `INSERT OR IGNORE INTO room_directory (room_id, ts) VALUES (?, ?)`, roomID, time.Now().UnixMilli())
	} else {
		_, err = c.db.w.ExecContext(ctx, `DELETE FROM room_directory WHERE room_id = ?`, roomID)
	}
	return err
}

// PublicRooms implements clientapi.PublishedRooms.
func (c *Client) PublicRooms(ctx context.Context, who *clientapi.Identity, req clientapi.PublicRoomsRequest) (*clientapi.PublicRoomsResponse, error) {
	if req.Server != "" {
		return c.remotePublicRooms(ctx, req)
	}
	q, args, err := directoryQuery(req.IncludeAllNetworks, req.ThirdPartyInstance)
	if err != nil {
		return nil, err
	}
	return c.localPublicRooms(ctx, q, args, req.Limit, req.Since, req.SearchTerm, req.RoomTypes)
}

// localPublicRooms lists the published rooms (those of the query q, see
// directoryQuery) this server is in, most
// joined members first; since is an offset into that list.
func (c *Client) localPublicRooms(ctx context.Context, q string, args []any, limit int, since, term string, types []*string) (*clientapi.PublicRoomsResponse, error) {
	rows, err := c.db.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	term = strings.ToLower(term)
	var all []clientapi.PublicRoom
	for _, id := range ids {
		chunk, _, err := c.roomChunk(ctx, id)
		if err != nil {
			return nil, err
		}
		if chunk.NumJoinedMembers == 0 {
			continue // the room is left by all: nobody here can let you in
		}
		if term != "" && !strings.Contains(strings.ToLower(chunk.Name+" "+chunk.Topic+" "+chunk.CanonicalAlias), term) {
			continue
		}
		if types != nil && !slices.ContainsFunc(types, func(t *string) bool {
			return (t == nil && chunk.RoomType == "") || (t != nil && *t == chunk.RoomType)
		}) {
			continue
		}
		all = append(all, chunk)
	}
	slices.SortStableFunc(all, func(a, b clientapi.PublicRoom) int { return b.NumJoinedMembers - a.NumJoinedMembers })
	start := 0
	if since != "" {
		n, err := strconv.Atoi(since)
		if err != nil || n < 0 || n > len(all) {
			return nil, clientapi.InvalidParam("malformed since token")
		}
		start = n
	}
	end := len(all)
	if limit > 0 {
		end = min(end, start+limit)
	}
	total := len(all)
	out := &clientapi.PublicRoomsResponse{Chunk: all[start:end], TotalRoomCountEstimate: &total}
	if end < len(all) {
		out.NextBatch = strconv.Itoa(end)
	}
	if start > 0 {
		out.PrevBatch = strconv.Itoa(max(0, start-max(limit, 1)))
	}
	return out, nil
}

// remotePublicRooms asks another server for its directory.
func (c *Client) remotePublicRooms(ctx context.Context, req clientapi.PublicRoomsRequest) (*clientapi.PublicRoomsResponse, error) {
	if c.fed == nil {
		return nil, clientapi.NewError(http.StatusNotFound, "M_UNRECOGNIZED", "this server does not federate")
	}
	freq := federation.PublicRoomsRequest{Limit: req.Limit, Since: req.Since, IncludeAllNetworks: req.IncludeAllNetworks, ThirdPartyInstanceID: req.ThirdPartyInstance}
	var resp *federation.PublicRoomsResponse
	var err error
	if req.SearchTerm != "" || req.RoomTypes != nil {
		f := map[string]any{}
		if req.SearchTerm != "" {
			f["generic_search_term"] = req.SearchTerm
		}
		if req.RoomTypes != nil {
			f["room_types"] = req.RoomTypes
		}
		freq.Filter, _ = json.Marshal(f)
		resp, err = c.fed.client.PublicRoomsFilter(ctx, req.Server, freq)
	} else {
		resp, err = c.fed.client.PublicRooms(ctx, req.Server, freq)
	}
	if err != nil {
		var me *federation.Error
		if errors.As(err, &me) && me.Status >= 400 && me.Status < 500 {
			return nil, clientapi.NewError(me.Status, me.Code, req.Server+": "+me.Message)
		}
		return nil, clientapi.NewError(http.StatusBadGateway, "M_UNKNOWN", "could not read the room directory of "+req.Server)
	}
	out := &clientapi.PublicRoomsResponse{NextBatch: resp.NextBatch, PrevBatch: resp.PrevBatch}
	if resp.TotalRoomCountEstimate > 0 {
		n := int(resp.TotalRoomCountEstimate)
		out.TotalRoomCountEstimate = &n
	}
	for _, raw := range resp.Chunk {
		var r clientapi.PublicRoom
		if json.Unmarshal(raw, &r) == nil && r.RoomID != "" {
			out.Chunk = append(out.Chunk, r)
		}
	}
	return out, nil
}

// directory implements federation.RoomDirectory for other servers.
type directory struct{ c *Client }

// PublicRooms implements federation.RoomDirectory.
func (d directory) PublicRooms(ctx context.Context, origin string, req federation.PublicRoomsRequest) (*federation.PublicRoomsResponse, error) {
	var f struct {
		GenericSearchTerm string    `json:"generic_search_term"`
		RoomTypes         []*string `json:"room_types"`
	}
	if len(req.Filter) > 0 {
		json.Unmarshal(req.Filter, &f)
	}
	q, args, err := directoryQuery(req.IncludeAllNetworks, req.ThirdPartyInstanceID)
	if err != nil {
		return nil, err
	}
	local, err := d.c.localPublicRooms(ctx, q, args, req.Limit, req.Since, f.GenericSearchTerm, f.RoomTypes)
	if err != nil {
		return nil, err
	}
	out := &federation.PublicRoomsResponse{NextBatch: local.NextBatch, PrevBatch: local.PrevBatch, Chunk: []json.RawMessage{}}
	if local.TotalRoomCountEstimate != nil {
		out.TotalRoomCountEstimate = int64(*local.TotalRoomCountEstimate)
	}
	for _, r := range local.Chunk {
		b, _ := json.Marshal(r)
		out.Chunk = append(out.Chunk, b)
	}
	return out, nil
}
