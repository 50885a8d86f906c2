package clientapi

import (
	"encoding/json"
	"net/http"
)

// Extended profiles (v1.16; data/api/client-server/profile.yaml): any
// profile key, read, set and deleted one by one. displayname and avatar_url
// keep their own routes (strings, with their limits); other keys take any
// JSON value, with the spec's limits: keys of at most 255 bytes, a whole
// profile under 64 KiB.
const (
	MaxProfileKeyBytes = 255
	MaxProfileBytes    = 64 << 10
)

func (c *call) profileKeyName() (string, error) {
	k := c.r.PathValue("keyName")
	if k == "" {
		return "", MissingParam("keyName is required")
	}
	if len(k) > MaxProfileKeyBytes {
		return "", NewError(http.StatusBadRequest, "M_KEY_TOO_LARGE", "profile keys are at most 255 bytes")
	}
	return k, nil
}

func (c *call) profileKeyGet() (any, error) {
	key, err := c.profileKeyName()
	if err != nil {
		return nil, err
	}
	return profileFieldGet(key)(c)
}

func (c *call) profileKeyPut() (any, error) {
	if err := need(c.s.Profile != nil); err != nil {
		return nil, err
	}
	key, err := c.profileKeyName()
	if err != nil {
		return nil, err
	}
	if _, ok := profileLimits[key]; ok {
		return profileFieldPut(key)(c)
	}
	if err := c.selfParam("userId", "set the profile"); err != nil {
		return nil, err
	}
	var b map[string]json.RawMessage
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	raw, ok := b[key]
	if !ok {
		return nil, MissingParam(key + " is required")
	}
	var value any
	if err := json.Unmarshal(raw, &value); err != nil {
		return nil, BadJSON("the value is not JSON")
	}
	if value == nil {
		// "Servers MAY reject null values": deleting is DELETE's job.
		return nil, InvalidParam("null is not a profile value here; use DELETE to remove a key")
	}
	p, err := c.s.Profile.Profile(c.ctx, c.who.UserID)
	if err != nil {
		return nil, err
	}
	next := map[string]any{}
	for k, v := range p {
		next[k] = v
	}
	next[key] = value
	if enc, _ := json.Marshal(next); len(enc) >= MaxProfileBytes {
		return nil, NewError(http.StatusBadRequest, "M_PROFILE_TOO_LARGE", "the profile would be larger than 64 KiB")
	}
	return struct{}{}, c.s.Profile.SetProfileField(c.ctx, c.who, key, value)
}

func (c *call) profileKeyDelete() (any, error) {
	key, err := c.profileKeyName()
	if err != nil {
		return nil, err
	}
	return profileFieldDelete(key)(c)
}

// profileFieldDelete removes one field of the user's own profile.
func profileFieldDelete(field string) handlerFunc {
	return func(c *call) (any, error) {
		if err := need(c.s.Profile != nil); err != nil {
			return nil, err
		}
		if err := c.selfParam("userId", "change the profile"); err != nil {
			return nil, err
		}
		return struct{}{}, c.s.Profile.SetProfileField(c.ctx, c.who, field, nil)
	}
}
