package clientapi

import (
	"context"
	"strings"
)

// Reports takes reports of content (content/client-server-api/_index.md
// "Reporting content"; data/api/client-server/report_content.yaml): an
// event (the reporter must be joined to its room), a room, or a user.
// Optional: without it the endpoints answer 404 M_UNRECOGNIZED.
type Reports interface {
	// Report records r. An error wrapping a 404 *Error tells the client
	// the event, room or user was not found (or the event is not
	// visible to the reporter).
	Report(ctx context.Context, who Identity, r Report) error
}

// Report is one report: exactly one of EventID (with RoomID), RoomID
// alone, or UserID names what is reported.
type Report struct {
	RoomID, EventID, UserID string
	Reason                  string
}

// MaxReportReason bounds a report's reason (the spec gives no limit; the
// reason is stored for moderators).
const MaxReportReason = 4096

type reportBody struct {
	Reason *string `json:"reason"`
}

// reportReason reads the body; required says whether reason must be
// present (room and user reports; an event report may leave it out).
func (c *call) reportReason(required bool) (string, error) {
	var b reportBody
	if err := c.decode(&b, !required); err != nil {
		return "", err
	}
	if b.Reason == nil {
		if required {
			return "", MissingParam("reason is required")
		}
		return "", nil
	}
	if len(*b.Reason) > MaxReportReason {
		return "", InvalidParam("reason is longer than 4096 bytes")
	}
	return strings.TrimSpace(*b.Reason), nil
}

func (c *call) reportEvent() (any, error) {
	roomID, err := c.room(c.s.Reports != nil)
	if err != nil {
		return nil, err
	}
	eventID, err := c.eventIDParam("eventId")
	if err != nil {
		return nil, err
	}
	reason, err := c.reportReason(false)
	if err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Reports.Report(c.ctx, c.who, Report{RoomID: roomID, EventID: eventID, Reason: reason})
}

func (c *call) reportRoom() (any, error) {
	roomID, err := c.room(c.s.Reports != nil)
	if err != nil {
		return nil, err
	}
	reason, err := c.reportReason(true)
	if err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Reports.Report(c.ctx, c.who, Report{RoomID: roomID, Reason: reason})
}

func (c *call) reportUser() (any, error) {
	if err := need(c.s.Reports != nil); err != nil {
		return nil, err
	}
	userID, err := c.userIDParam("userId")
	if err != nil {
		return nil, err
	}
	reason, err := c.reportReason(true)
	if err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Reports.Report(c.ctx, c.who, Report{UserID: userID, Reason: reason})
}
