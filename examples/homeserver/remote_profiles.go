package main

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/mxkit/mxkit/clientapi"
	"github.com/mxkit/mxkit/federation"
)

// remoteProfiles answers profile lookups of other servers' users with the
// federation profile query (content/server-server-api.md, "Query types":
// GET /_matrix/federation/v1/query/profile), keeping answers for a while:
// clients look profiles up often (every member of a room they open).
type remoteProfiles struct {
	client *federation.Client
	ttl    time.Duration
	max    int

	mu    sync.Mutex
	cache map[string]cachedProfile
}

type cachedProfile struct {
	profile map[string]any
	until   time.Time
}

func newRemoteProfiles(c *federation.Client) *remoteProfiles {
	return &remoteProfiles{client: c, ttl: 10 * time.Minute, max: 4096, cache: map[string]cachedProfile{}}
}

// get returns the profile of a user of another server. The remote server's
// Matrix errors are passed on (404 M_NOT_FOUND for an unknown user); a
// server that cannot be reached or answers nonsense is 502, as the
// reference server answers.
func (r *remoteProfiles) get(ctx context.Context, userID string) (map[string]any, error) {
	now := time.Now()
	r.mu.Lock()
	c, ok := r.cache[userID]
	r.mu.Unlock()
	if ok && now.Before(c.until) {
		return c.profile, nil
	}
	p, err := r.client.QueryProfile(ctx, serverOf(userID), userID, "")
	if err != nil {
		var me *federation.Error
		if errors.As(err, &me) && me.Status >= 400 && me.Status < 500 {
			return nil, clientapi.NewError(me.Status, me.Code, "remote server: "+me.Message)
		}
		return nil, clientapi.NewError(http.StatusBadGateway, "M_UNKNOWN", "could not fetch the profile from "+serverOf(userID))
	}
	out := map[string]any{}
	if p.DisplayName != "" {
		out["displayname"] = p.DisplayName
	}
	if p.AvatarURL != "" {
		out["avatar_url"] = p.AvatarURL
	}
	r.mu.Lock()
	if len(r.cache) >= r.max {
		for k, v := range r.cache {
			if !now.Before(v.until) || len(r.cache) >= r.max {
				delete(r.cache, k)
			}
		}
	}
	r.cache[userID] = cachedProfile{profile: out, until: now.Add(r.ttl)}
	r.mu.Unlock()
	return out, nil
}
