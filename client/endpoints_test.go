package client_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mxkit/mxkit/client"
	"github.com/mxkit/mxkit/internal/hstest"
)

// TestMoreEndpoints drives the rest of the endpoints against the example
// homeserver: discovery, filters, tags, receipts, typing,
// presence, directory, push rules, the encryption start-up calls.
func TestMoreEndpoints(t *testing.T) {
	url := hstest.Start(t, "more.test")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := newUser(t, ctx, url, "dora")

	v, err := c.Versions(ctx)
	// The homeserver lists only the releases whose endpoints it all serves
	// (see docs/coverage.md), which may be none; the call must still decode.
	if err != nil || v == nil || v.Versions == nil {
		t.Fatalf("versions %+v %v", v, err)
	}
	if caps, err := c.Capabilities(ctx); err != nil || caps["m.room_versions"] == nil {
		t.Errorf("capabilities %v %v", caps, err)
	}
	if flows, err := c.LoginFlows(ctx); err != nil || !strings.Contains(strings.Join(flows, ","), client.LoginPassword) {
		t.Errorf("login flows %v %v", flows, err)
	}

	f := &client.Filter{Room: &client.RoomFilter{Timeline: &client.RoomEventFilter{EventFilter: client.EventFilter{Limit: 3, Types: []string{"m.room.message"}}}}}
	id, err := c.CreateFilter(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if back, err := c.GetFilter(ctx, id); err != nil || back.Room == nil || back.Room.Timeline.Limit != 3 {
		t.Errorf("filter %+v %v", back, err)
	}

	// Devices are not served by the example homeserver (no Devices
	// backend): TestDevicesFake covers them.

	roomID, err := c.CreateRoom(ctx, &client.CreateRoomRequest{Preset: "public_chat", Visibility: "public", Name: "Pub"})
	if err != nil {
		t.Fatal(err)
	}
	eventID, err := c.SendText(ctx, roomID, "x")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Receipt(ctx, roomID, "m.read", eventID, ""); err != nil {
		t.Error("receipt:", err)
	}
	if err := c.ReadMarkers(ctx, roomID, eventID, eventID, ""); err != nil {
		t.Error("read markers:", err)
	}
	if err := c.Typing(ctx, roomID, true, 5*time.Second); err != nil {
		t.Error("typing:", err)
	}
	order := 0.5
	if err := c.SetTag(ctx, roomID, "m.favourite", &order); err != nil {
		t.Fatal(err)
	}
	if tags, err := c.Tags(ctx, roomID); err != nil || tags["m.favourite"] == nil {
		t.Errorf("tags %v %v", tags, err)
	}
	if err := c.DeleteTag(ctx, roomID, "m.favourite"); err != nil {
		t.Error("delete tag:", err)
	}
	// The example homeserver has no published room directory backend:
	// reading works (private, empty), publishing is not served.
	if vis, err := c.RoomVisibility(ctx, roomID); err != nil || (vis != "public" && vis != "private") {
		t.Errorf("visibility %q %v", vis, err)
	}
	if _, err := c.PublicRooms(ctx, nil); err != nil {
		t.Errorf("public rooms: %v", err)
	}
	if err := c.SetAlias(ctx, "#pub:more.test", roomID); err != nil {
		t.Fatal(err)
	}
	if aliases, err := c.RoomAliases(ctx, roomID); err != nil || len(aliases) != 1 {
		t.Errorf("aliases %v %v", aliases, err)
	}
	if err := c.DeleteAlias(ctx, "#pub:more.test"); err != nil {
		t.Error("delete alias:", err)
	}
	if _, _, err := c.ResolveAlias(ctx, "#pub:more.test"); !client.IsCode(err, client.CodeNotFound) {
		t.Errorf("deleted alias: %v", err)
	}

	if err := c.SetPresence(ctx, "online", "here"); err != nil {
		t.Error("set presence:", err)
	}
	if _, err := c.Presence(ctx, c.UserID); err != nil {
		t.Error("presence:", err)
	}
	if _, _, err := c.SearchUsers(ctx, "dora", 5); err != nil {
		t.Error("user directory:", err)
	}
	rules, err := c.PushRules(ctx)
	if err != nil || !json.Valid(rules) || !strings.Contains(string(rules), ".m.rule.master") {
		t.Errorf("push rules %.80s %v", rules, err)
	}
	// The example homeserver serves the default push rules only (no
	// PushRuleStore), so PUT and DELETE are not tried here.
	if _, err := c.UploadKeys(ctx, json.RawMessage(`{}`)); err != nil {
		t.Error("keys upload:", err)
	}
	if _, err := c.QueryKeys(ctx, json.RawMessage(`{"device_keys":{}}`)); err != nil {
		t.Error("keys query:", err)
	}
	if _, err := c.RoomKeysVersion(ctx); !client.IsCode(err, client.CodeNotFound) {
		t.Errorf("room keys version: %v", err)
	}
	if _, err := c.TURNServer(ctx); err != nil {
		t.Error("turn:", err)
	}
	if _, err := c.MediaConfig(ctx); err != nil {
		t.Error("media config:", err)
	}
	if err := c.LogoutAll(ctx); err != nil {
		t.Fatal(err)
	}
}
