package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mxkit/mxkit/canonicaljson"
	"github.com/mxkit/mxkit/internal/mxerr"
	"github.com/mxkit/mxkit/signing"
)

// DefaultKeyValidity is the validity ServerKeysHandler gives its keys when
// asked for none: a day, the reference server's default. The
// specification asks for a valid_until_ts at least an hour ahead and
// other servers cap it at seven days.
const DefaultKeyValidity = 24 * time.Hour

// ServerKeysHandler answers GET /_matrix/key/v2/server ("Publishing Keys",
// content/server-server-api.md; data/api/server-server/keys_server.yaml)
// with serverName's keys: key in verify_keys, old in old_verify_keys (may
// be nil), signed by key, valid until now + validity (0:
// DefaultKeyValidity). The signed object is made again when half of its
// validity has passed. Methods other than GET and HEAD get 405
// M_UNRECOGNIZED.
func ServerKeysHandler(serverName string, key *signing.SigningKey, old map[signing.KeyID]signing.OldKey, validity time.Duration) http.Handler {
	if validity <= 0 {
		validity = DefaultKeyValidity
	}
	return &ownKeys{serverName: serverName, keys: []*signing.SigningKey{key}, old: old, validity: validity, now: time.Now}
}

// ownKeys produces and caches our signed server keys object.
type ownKeys struct {
	serverName string
	keys       []*signing.SigningKey
	old        map[signing.KeyID]signing.OldKey
	validity   time.Duration
	now        func() time.Time

	mu      sync.Mutex
	body    []byte
	refresh time.Time
}

func (o *ownKeys) get() ([]byte, error) {
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.body != nil && now.Before(o.refresh) {
		return o.body, nil
	}
	body, err := signing.MakeServerKeys(o.serverName, now.Add(o.validity).UnixMilli(), o.keys, o.old)
	if err != nil {
		return nil, err
	}
	o.body, o.refresh = body, now.Add(o.validity/2)
	return body, nil
}

func (o *ownKeys) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		mxerr.Write(w, mxerr.New(http.StatusMethodNotAllowed, mxerr.Unrecognized, "method not allowed"))
		return
	}
	body, err := o.get()
	if err != nil {
		mxerr.Write(w, err)
		return
	}
	writeJSON(w, body)
}

func writeJSON(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

// maxNotaryServers bounds the servers of one POST /_matrix/key/v2/query.
const maxNotaryServers = 100

// Notary answers the notary endpoints ("Querying Keys Through Another
// Server", content/server-server-api.md; data/api/server-server/keys_query.yaml):
// GET /_matrix/key/v2/query/{serverName} and POST /_matrix/key/v2/query.
// Mount it on both paths; it tells them apart by method, and takes the
// server name from the pattern's {serverName} wildcard on an
// http.ServeMux, else from the path after "/query/".
//
// For each server asked about it returns the stored keys objects from
// Keys' store, fetching the server's keys directly (never through other
// notaries) when no stored object is valid until minimum_valid_until_ts
// (the current time when the query gives none, as the specification
// requires), when a requested key ID is unknown, or when half the
// lifetime of the stored answer has passed (as keys_server.yaml asks of
// notaries); fetches obey Keys.RefetchInterval. When the server cannot
// be reached, the cached objects are returned as they are: the
// specification allows it, and the requester sees their valid_until_ts.
// Every object returned carries the server's own signature and gets ours
// added. A server with nothing cached and unreachable is left out (GET:
// an empty server_keys array). Questions about our own ServerName are
// answered with our own keys.
type Notary struct {
	// ServerName is our server name; Key signs the answers.
	ServerName string
	Key        *signing.SigningKey
	// OldKeys and Validity describe our own keys, as in ServerKeysHandler.
	OldKeys  map[signing.KeyID]signing.OldKey
	Validity time.Duration
	// Keys fetches and stores other servers' keys.
	Keys *FetchingKeyRing
	// MaxBody bounds the POST body (0: 1 MiB).
	MaxBody int64
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	once sync.Once
	own  *ownKeys
}

func (n *Notary) now() time.Time {
	if n.Now != nil {
		return n.Now()
	}
	return time.Now()
}

// ServeHTTP implements http.Handler.
func (n *Notary) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n.once.Do(func() {
		v := n.Validity
		if v <= 0 {
			v = DefaultKeyValidity
		}
		n.own = &ownKeys{serverName: n.ServerName, keys: []*signing.SigningKey{n.Key}, old: n.OldKeys, validity: v, now: n.now}
	})
	nowMS := n.now().UnixMilli()
	var queries []notaryQuery
	switch r.Method {
	case http.MethodGet:
		name := r.PathValue("serverName")
		if name == "" {
			p := r.URL.EscapedPath()
			i := strings.LastIndex(p, "/query/")
			if i < 0 {
				mxerr.Write(w, mxerr.New(http.StatusNotFound, mxerr.Unrecognized, "no server name in the path"))
				return
			}
			var err error
			if name, err = url.PathUnescape(p[i+len("/query/"):]); err != nil {
				mxerr.Write(w, mxerr.New(http.StatusBadRequest, mxerr.InvalidParam, "bad server name in the path"))
				return
			}
		}
		minTS := nowMS
		if v := r.URL.Query().Get("minimum_valid_until_ts"); v != "" {
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				mxerr.Write(w, mxerr.New(http.StatusBadRequest, mxerr.InvalidParam, "minimum_valid_until_ts is not an integer"))
				return
			}
			minTS = ts
		}
		queries = []notaryQuery{{name: name, minTS: minTS}}
	case http.MethodPost:
		q, err := n.parsePost(r, nowMS)
		if err != nil {
			mxerr.Write(w, err)
			return
		}
		queries = q
	default:
		w.Header().Set("Allow", "GET, POST")
		mxerr.Write(w, mxerr.New(http.StatusMethodNotAllowed, mxerr.Unrecognized, "method not allowed"))
		return
	}

	results := make([][][]byte, len(queries))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i, q := range queries {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = n.answer(r.Context(), q)
		}()
	}
	wg.Wait()
	var buf bytes.Buffer
	buf.WriteString(`{"server_keys":[`)
	first := true
	for _, objs := range results {
		for _, o := range objs {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			buf.Write(o)
		}
	}
	buf.WriteString("]}")
	writeJSON(w, buf.Bytes())
}

type notaryQuery struct {
	name   string
	minTS  int64
	keyIDs []signing.KeyID
}

func (n *Notary) parsePost(r *http.Request, nowMS int64) ([]notaryQuery, error) {
	limit := n.MaxBody
	if limit <= 0 {
		limit = 1 << 20
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, mxerr.New(http.StatusBadRequest, mxerr.Unknown, "could not read the request body")
	}
	if int64(len(body)) > limit {
		return nil, mxerr.New(http.StatusRequestEntityTooLarge, mxerr.TooLarge, "request body too large")
	}
	var doc struct {
		ServerKeys map[string]map[string]struct {
			MinimumValidUntilTS *int64 `json:"minimum_valid_until_ts"`
		} `json:"server_keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, mxerr.New(http.StatusBadRequest, mxerr.BadJSON, "bad request body: "+err.Error())
	}
	if doc.ServerKeys == nil {
		return nil, mxerr.New(http.StatusBadRequest, mxerr.MissingParam, "server_keys is required")
	}
	if len(doc.ServerKeys) > maxNotaryServers {
		return nil, mxerr.New(http.StatusBadRequest, mxerr.InvalidParam, fmt.Sprintf("more than %d servers", maxNotaryServers))
	}
	var out []notaryQuery
	for name, ids := range doc.ServerKeys {
		q := notaryQuery{name: name, minTS: nowMS}
		for id, crit := range ids {
			q.keyIDs = append(q.keyIDs, signing.KeyID(id))
			if crit.MinimumValidUntilTS != nil {
				// One object answers for every key of the server: it
				// must satisfy the most demanding criterion.
				if len(q.keyIDs) == 1 || *crit.MinimumValidUntilTS > q.minTS {
					q.minTS = *crit.MinimumValidUntilTS
				}
			}
		}
		out = append(out, q)
	}
	return out, nil
}

// answer returns the signed objects for one server.
func (n *Notary) answer(ctx context.Context, q notaryQuery) [][]byte {
	if !validServerName(q.name) {
		return nil
	}
	var objs []*signing.ServerKeys
	if q.name == n.ServerName {
		body, err := n.own.get()
		if err != nil {
			return nil
		}
		return [][]byte{body}
	}
	if n.Keys == nil {
		return nil
	}
	k := n.Keys
	k.init()
	stored, err := k.store.LoadServerKeys(ctx, []string{q.name})
	if err == nil {
		objs = stored[q.name]
	}
	fresh := satisfies(objs, q)
	if fresh {
		// "Intermediate notary servers should cache a response for half
		// of its lifetime" (keys_server.yaml): past that, ask again. An
		// object whose fetch time is unknown (stored before a restart)
		// counts as old.
		fresh = false
		if at, ok := k.lastFetched(q.name); ok {
			for _, o := range objs {
				if o.ValidUntilTS >= q.minTS && n.now().UnixMilli() < at.UnixMilli()+(o.ValidUntilTS-at.UnixMilli())/2 {
					fresh = true
				}
			}
		}
	}
	if !fresh {
		got, _ := k.flight.do(ctx, "direct\x00"+q.name, func() ([]*signing.ServerKeys, error) {
			if k.recentlyFetched(q.name) {
				return nil, nil
			}
			return k.fetch(context.WithoutCancel(ctx), q.name, q.minTS, true)
		})
		if len(got) > 0 {
			if stored, err := k.store.LoadServerKeys(ctx, []string{q.name}); err == nil && len(stored[q.name]) > 0 {
				objs = stored[q.name]
			} else {
				objs = got
			}
		}
	}
	var out [][]byte
	for _, o := range objs {
		signed, err := signing.SignJSON(o.Raw, n.ServerName, n.Key, canonicaljson.Lenient)
		if err != nil {
			continue
		}
		out = append(out, signed)
	}
	return out
}

// satisfies reports whether the objects answer q: one is valid until
// q.minTS, and every key ID asked about is listed.
func satisfies(objs []*signing.ServerKeys, q notaryQuery) bool {
	valid := false
	for _, o := range objs {
		if o.ValidUntilTS >= q.minTS {
			valid = true
		}
	}
	if !valid {
		return false
	}
	for _, id := range q.keyIDs {
		if _, ok := findKey(objs, id); !ok {
			return false
		}
	}
	return true
}
