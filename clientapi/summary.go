package clientapi

import (
	"context"

	"github.com/mxkit/mxkit/roomversion"
)

// RoomSummaries answers GET /_matrix/client/v1/room_summary/{roomIdOrAlias}
// (v1.15; data/api/client-server/room_summary.yaml). Optional: without it
// the endpoint answers 404 M_UNRECOGNIZED.
type RoomSummaries interface {
	// RoomSummary summarises a room for who (a zero Identity when the
	// request carries no token). A room the user may not see is not
	// found (404 M_NOT_FOUND), so that its existence does not leak.
	RoomSummary(ctx context.Context, who Identity, roomIDOrAlias string, via []string) (*RoomSummaryResponse, error)
}

// RoomSummaryResponse is a room's summary: its public rooms chunk and
// more. (RoomSummary is the summary block of a joined room in /sync.)
type RoomSummaryResponse struct {
	PublicRoom
	AllowedRoomIDs []string `json:"allowed_room_ids,omitempty"`
	Encryption     string   `json:"encryption,omitempty"`
	RoomVersion    string   `json:"room_version,omitempty"`
	// Membership is the user's membership; empty when unauthenticated or
	// none.
	Membership string `json:"membership,omitempty"`
}

// SummaryVisible reports whether a room may be summarised for a user, as
// the reference server decides (the endpoint's description, and the
// rooms a user could peek into or join): a join rule of public, knock or
// knock_restricted, world_readable history, a membership of join, invite
// or knock, or a restricted join rule with the user in an allowed room
// (inAllowed). Without a user (unauthenticated), only the first two.
func SummaryVisible(v roomversion.Version, joinRule, historyVisibility, membership string, authenticated, inAllowed bool) bool {
	switch {
	case joinRule == "public" || joinRule == "knock" && v.Auth.Knocking || joinRule == "knock_restricted" && v.Auth.KnockRestricted:
		return true
	case historyVisibility == "world_readable":
		return true
	case !authenticated:
		return false
	case membership == "join" || membership == "invite" || membership == "knock":
		return true
	case (joinRule == "restricted" && v.Auth.RestrictedJoins || joinRule == "knock_restricted" && v.Auth.KnockRestricted) && inAllowed:
		return true
	}
	return false
}

func (c *call) roomSummary() (any, error) {
	if err := need(c.s.Summaries != nil); err != nil {
		return nil, err
	}
	id, err := c.roomIDOrAliasParam()
	if err != nil {
		return nil, err
	}
	via := c.r.URL.Query()["via"]
	for _, s := range via {
		if err := ValidServerName(s); err != nil {
			return nil, InvalidParam("via: " + quote(s) + " is not a server name")
		}
	}
	return c.s.Summaries.RoomSummary(c.ctx, c.who, id, via)
}
