package clientapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
)

// Room tags (content/client-server-api/modules/tags.md) are kept as the
// room's m.tag account data, {"tags": {tag: {"order": n}}}, which is how
// clients receive them in /sync; the endpoints read and rewrite that
// object through the AccountData backend.

func (s *Server) tagRoutes(add addFunc) {
	L := legacyPrefixes
	add(L, "GET", "/user/{userId}/rooms/{roomId}/tags", authRequired, (*call).getTags)
	add(L, "PUT", "/user/{userId}/rooms/{roomId}/tags/{tag}", authRequired, (*call).putTag)
	add(L, "DELETE", "/user/{userId}/rooms/{roomId}/tags/{tag}", authRequired, (*call).deleteTag)
}

// tagLocks serialises the read-modify-write of one user's tags.
var tagLocks sync.Map // user ID -> *sync.Mutex

func lockTags(userID string) func() {
	m, _ := tagLocks.LoadOrStore(userID, new(sync.Mutex))
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (c *call) tagParams() (string, error) {
	if err := need(c.s.AccountData != nil); err != nil {
		return "", err
	}
	if err := c.selfParam("userId", "manage tags"); err != nil {
		return "", err
	}
	return c.roomIDParam("roomId")
}

// tags returns the room's tags object (empty when unset).
func (c *call) tags(roomID string) (map[string]json.RawMessage, error) {
	raw, err := c.s.AccountData.AccountData(c.ctx, c.who.UserID, roomID, "m.tag")
	if e, ok := asError(err); ok && e.Code == CodeNotFound {
		return map[string]json.RawMessage{}, nil
	}
	if err != nil {
		return nil, err
	}
	var content struct {
		Tags map[string]json.RawMessage `json:"tags"`
	}
	if json.Unmarshal(raw, &content) != nil || content.Tags == nil {
		return map[string]json.RawMessage{}, nil
	}
	return content.Tags, nil
}

func (c *call) getTags() (any, error) {
	roomID, err := c.tagParams()
	if err != nil {
		return nil, err
	}
	tags, err := c.tags(roomID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"tags": tags}, nil
}

// roomTagParams is tagParams followed by the tag path parameter of PUT
// and DELETE.
func (c *call) roomTagParams() (roomID, tag string, err error) {
	if roomID, err = c.tagParams(); err != nil {
		return "", "", err
	}
	tag = c.r.PathValue("tag")
	if len(tag) > MaxIDLength {
		return "", "", InvalidParam(fmt.Sprintf("tag is longer than %d bytes", MaxIDLength))
	}
	return roomID, tag, nil
}

func (c *call) putTag() (any, error) {
	roomID, tag, err := c.roomTagParams()
	if err != nil {
		return nil, err
	}
	var b struct {
		Order *float64 `json:"order"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	body, _ := c.object(false)
	unlock := lockTags(c.who.UserID)
	defer unlock()
	tags, err := c.tags(roomID)
	if err != nil {
		return nil, err
	}
	tags[tag] = json.RawMessage(body)
	content := mustJSON(map[string]any{"tags": tags})
	if len(content) > MaxEventSize {
		return nil, NewError(http.StatusRequestEntityTooLarge, CodeTooLarge, "the room's tags would exceed the event size limit")
	}
	return struct{}{}, c.s.AccountData.SetAccountData(c.ctx, c.who.UserID, roomID, "m.tag", content)
}

func (c *call) deleteTag() (any, error) {
	roomID, tag, err := c.roomTagParams()
	if err != nil {
		return nil, err
	}
	unlock := lockTags(c.who.UserID)
	defer unlock()
	tags, err := c.tags(roomID)
	if err != nil {
		return nil, err
	}
	if _, ok := tags[tag]; !ok {
		// Removing a tag that is not there succeeds (the reference
		// server answers 200 {}).
		return struct{}{}, nil
	}
	delete(tags, tag)
	return struct{}{}, c.s.AccountData.SetAccountData(c.ctx, c.who.UserID, roomID, "m.tag", mustJSON(map[string]any{"tags": tags}))
}
