package clientapi

import (
	"context"
	"net/http"
	"strconv"
)

// PublishedRooms is the published room directory
// (content/client-server-api/_index.md "Published room directory",
// data/api/client-server/list_public_rooms.yaml). Optional: without it the
// directory is empty, every room is private, and publishing answers 404
// M_UNRECOGNIZED.
type PublishedRooms interface {
	// Visibility reports whether a room is published; M_NOT_FOUND for
	// a room the server does not know.
	Visibility(ctx context.Context, roomID string) (public bool, err error)
	// SetVisibility publishes or unpublishes a room (the backend checks
	// the user may).
	SetVisibility(ctx context.Context, who Identity, roomID string, public bool) error
	// PublicRooms lists published rooms. who is nil for GET requests
	// without an access token.
	PublicRooms(ctx context.Context, who *Identity, req PublicRoomsRequest) (*PublicRoomsResponse, error)
}

// PublicRoomsRequest is GET or POST /publicRooms.
type PublicRoomsRequest struct {
	Server string // "" for the local server
	Limit  int    // 0: no limit given
	Since  string
	// SearchTerm is filter.generic_search_term; RoomTypes is
	// filter.room_types (a nil entry stands for rooms without a type).
	SearchTerm         string
	RoomTypes          []*string
	IncludeAllNetworks bool
	ThirdPartyInstance string
}

// PublicRoomsResponse is the answer of /publicRooms.
type PublicRoomsResponse struct {
	Chunk                  []PublicRoom `json:"chunk"`
	NextBatch              string       `json:"next_batch,omitempty"`
	PrevBatch              string       `json:"prev_batch,omitempty"`
	TotalRoomCountEstimate *int         `json:"total_room_count_estimate,omitempty"`
}

// PublicRoom is one published room
// (data/api/client-server/definitions/public_rooms_chunk.yaml).
type PublicRoom struct {
	RoomID           string `json:"room_id"`
	NumJoinedMembers int    `json:"num_joined_members"`
	WorldReadable    bool   `json:"world_readable"`
	GuestCanJoin     bool   `json:"guest_can_join"`
	Name             string `json:"name,omitempty"`
	Topic            string `json:"topic,omitempty"`
	AvatarURL        string `json:"avatar_url,omitempty"`
	CanonicalAlias   string `json:"canonical_alias,omitempty"`
	JoinRule         string `json:"join_rule,omitempty"`
	RoomType         string `json:"room_type,omitempty"`
}

func (s *Server) publicRoomRoutes(add addFunc) {
	L := legacyPrefixes
	add(L, "GET", "/directory/list/room/{roomId}", authNone, (*call).getVisibility)
	add(L, "PUT", "/directory/list/room/{roomId}", authRequired, (*call).putVisibility)
	add(L, "GET", "/publicRooms", authOptional, (*call).publicRoomsGet)
	add(L, "POST", "/publicRooms", authRequired, (*call).publicRoomsPost)
}

func (c *call) getVisibility() (any, error) {
	roomID, err := c.roomIDParam("roomId")
	if err != nil {
		return nil, err
	}
	public := false
	if c.s.PublishedRooms != nil {
		if public, err = c.s.PublishedRooms.Visibility(c.ctx, roomID); err != nil {
			return nil, err
		}
	}
	v := "private"
	if public {
		v = "public"
	}
	return map[string]string{"visibility": v}, nil
}

func (c *call) putVisibility() (any, error) {
	roomID, err := c.room(c.s.PublishedRooms != nil)
	if err != nil {
		return nil, err
	}
	var b struct {
		Visibility *string `json:"visibility"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	public := true // the spec's default
	if b.Visibility != nil {
		switch *b.Visibility {
		case "public":
		case "private":
			public = false
		default:
			return nil, InvalidParam("visibility must be public or private")
		}
	}
	return struct{}{}, c.s.PublishedRooms.SetVisibility(c.ctx, c.who, roomID, public)
}

func (c *call) serverParam() (string, error) {
	srv := c.r.URL.Query().Get("server")
	if srv != "" {
		if err := ValidServerName(srv); err != nil {
			return "", paramError(err)
		}
		if srv == c.s.ServerName {
			srv = ""
		}
	}
	return srv, nil
}

func (c *call) publicRoomsGet() (any, error) {
	srv, err := c.serverParam()
	if err != nil {
		return nil, err
	}
	req := PublicRoomsRequest{Server: srv, Since: c.r.URL.Query().Get("since")}
	if l := c.r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 0 {
			return nil, InvalidParam("limit must be a non-negative integer")
		}
		req.Limit = n
	}
	var who *Identity
	if c.who.UserID != "" {
		who = &c.who
	}
	return c.publicRooms(who, req)
}

func (c *call) publicRoomsPost() (any, error) {
	srv, err := c.serverParam()
	if err != nil {
		return nil, err
	}
	var b struct {
		Limit  *int   `json:"limit"`
		Since  string `json:"since"`
		Filter *struct {
			GenericSearchTerm string    `json:"generic_search_term"`
			RoomTypes         []*string `json:"room_types"`
		} `json:"filter"`
		IncludeAllNetworks   bool   `json:"include_all_networks"`
		ThirdPartyInstanceID string `json:"third_party_instance_id"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	req := PublicRoomsRequest{Server: srv, Since: b.Since, IncludeAllNetworks: b.IncludeAllNetworks, ThirdPartyInstance: b.ThirdPartyInstanceID}
	if b.IncludeAllNetworks && b.ThirdPartyInstanceID != "" {
		return nil, InvalidParam("third_party_instance_id cannot be used with include_all_networks")
	}
	if b.Limit != nil {
		if *b.Limit < 0 {
			return nil, InvalidParam("limit must not be negative")
		}
		req.Limit = *b.Limit
	}
	if b.Filter != nil {
		req.SearchTerm, req.RoomTypes = b.Filter.GenericSearchTerm, b.Filter.RoomTypes
	}
	return c.publicRooms(&c.who, req)
}

func (c *call) publicRooms(who *Identity, req PublicRoomsRequest) (any, error) {
	if c.s.PublishedRooms == nil {
		if req.Server != "" {
			return nil, NewError(http.StatusNotFound, CodeUnrecognized, "no remote room directories on this server")
		}
		zero := 0
		return &PublicRoomsResponse{Chunk: []PublicRoom{}, TotalRoomCountEstimate: &zero}, nil
	}
	resp, err := c.s.PublishedRooms.PublicRooms(c.ctx, who, req)
	if err != nil {
		return nil, err
	}
	if resp == nil {
		return nil, errNoAnswer
	}
	out := *resp
	if out.Chunk == nil {
		out.Chunk = []PublicRoom{}
	}
	return &out, nil
}
