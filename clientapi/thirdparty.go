package clientapi

import (
	"context"
	"sync"
	"time"
)

// This file holds the client-server endpoints that lean on application
// services: the third-party network lookups
// (content/client-server-api/modules/third_party_networks.md,
// data/api/client-server/third_party_lookup.yaml), the application
// service ping (appservice_ping.yaml) and the application services'
// published room directories (appservice_room_directory.yaml).

// ThirdParty answers the third-party network lookups. A homeserver asks
// the application services that provide each protocol and merges their
// answers; MemoryThirdParty answers from fixed lists. Optional: without
// it the server knows no protocol (GET /thirdparty/protocols answers {},
// every lookup 404 M_NOT_FOUND).
type ThirdParty interface {
	// Protocols returns the metadata of every protocol, by name.
	Protocols(ctx context.Context) (map[string]*Protocol, error)
	// Protocol returns one protocol's metadata; nil when unknown.
	Protocol(ctx context.Context, protocol string) (*Protocol, error)
	// Users looks up third-party users: of protocol by fields (the query
	// parameters), or, when protocol is "", by the Matrix user ID
	// fields["userid"].
	Users(ctx context.Context, protocol string, fields map[string]string) ([]ThirdPartyUser, error)
	// Locations looks up third-party locations: of protocol by fields,
	// or, when protocol is "", by the room alias fields["alias"].
	Locations(ctx context.Context, protocol string, fields map[string]string) ([]ThirdPartyLocation, error)
}

// Protocol is a third-party protocol as clients see it
// (data/api/client-server/definitions/protocol.yaml): the metadata of the
// application services that provide it, with the instances of all of
// them, each given an instance_id by the homeserver.
type Protocol struct {
	UserFields     []string             `json:"user_fields"`
	LocationFields []string             `json:"location_fields"`
	Icon           string               `json:"icon"`
	FieldTypes     map[string]FieldType `json:"field_types"`
	Instances      []ProtocolInstance   `json:"instances"`
}

// FieldType describes one field of a protocol.
type FieldType struct {
	Regexp      string `json:"regexp"`
	Placeholder string `json:"placeholder"`
}

// ProtocolInstance is one network of a protocol. InstanceID is unique on
// the homeserver; clients pass it as third_party_instance_id to POST
// /publicRooms.
type ProtocolInstance struct {
	Desc       string            `json:"desc"`
	Icon       string            `json:"icon,omitempty"`
	Fields     map[string]string `json:"fields"`
	NetworkID  string            `json:"network_id"`
	InstanceID string            `json:"instance_id"`
}

// ThirdPartyUser is a user of a third-party network and the Matrix user
// that stands for it.
type ThirdPartyUser struct {
	UserID   string            `json:"userid"`
	Protocol string            `json:"protocol"`
	Fields   map[string]string `json:"fields"`
}

// ThirdPartyLocation is a place on a third-party network and the room
// alias that reaches it.
type ThirdPartyLocation struct {
	Alias    string            `json:"alias"`
	Protocol string            `json:"protocol"`
	Fields   map[string]string `json:"fields"`
}

// AppServices is the homeserver's part of two client-server endpoints
// that only application services may call (the adapter checks that the
// request's token is an as_token, Identity.AppService, and answers 403
// M_FORBIDDEN otherwise). Optional: without it both answer 404
// M_UNRECOGNIZED.
type AppServices interface {
	// PingAppService calls POST /_matrix/app/v1/ping of the service with
	// txnID ("" for none) and returns how long it took. Errors are the
	// spec's: 400 M_URL_NOT_SET, 502 M_BAD_STATUS (with status and
	// body), 502 M_CONNECTION_FAILED, 504 M_CONNECTION_TIMEOUT
	// (appservice.PingError builds them).
	PingAppService(ctx context.Context, appServiceID, txnID string) (time.Duration, error)
	// SetAppServiceRoomVisibility publishes (or withdraws) roomID in the
	// room directory of the service's network networkID
	// (content/application-service-api.md, "Published room directories").
	SetAppServiceRoomVisibility(ctx context.Context, appServiceID, networkID, roomID string, public bool) error
}

func (s *Server) thirdPartyRoutes(add addFunc) {
	L, V1 := legacyPrefixes, v1Prefixes
	add(L, "GET", "/thirdparty/protocols", authRequired, (*call).thirdPartyProtocols)
	add(L, "GET", "/thirdparty/protocol/{protocol}", authRequired, (*call).thirdPartyProtocol)
	add(L, "GET", "/thirdparty/user/{protocol}", authRequired, (*call).thirdPartyUsers)
	add(L, "GET", "/thirdparty/user", authRequired, (*call).thirdPartyUsers)
	add(L, "GET", "/thirdparty/location/{protocol}", authRequired, (*call).thirdPartyLocations)
	add(L, "GET", "/thirdparty/location", authRequired, (*call).thirdPartyLocations)
	add(V1, "POST", "/appservice/{appserviceId}/ping", authRequired, (*call).appServicePing)
	add(L, "PUT", "/directory/list/appservice/{networkId}/{roomId}", authRequired, (*call).appServiceDirectory)
}

func (c *call) thirdPartyProtocols() (any, error) {
	if c.s.ThirdParty == nil {
		return map[string]any{}, nil
	}
	ps, err := c.s.ThirdParty.Protocols(c.ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]*Protocol{}
	for name, p := range ps {
		if p != nil {
			out[name] = p.normalized()
		}
	}
	return out, nil
}

func (c *call) thirdPartyProtocol() (any, error) {
	name := c.r.PathValue("protocol")
	var p *Protocol
	if c.s.ThirdParty != nil {
		var err error
		if p, err = c.s.ThirdParty.Protocol(c.ctx, name); err != nil {
			return nil, err
		}
	}
	if p == nil {
		return nil, NotFound("no such protocol: " + name)
	}
	return p.normalized(), nil
}

// normalized is p with empty lists and maps where JSON needs them.
func (p *Protocol) normalized() *Protocol {
	q := *p
	if q.UserFields == nil {
		q.UserFields = []string{}
	}
	if q.LocationFields == nil {
		q.LocationFields = []string{}
	}
	if q.FieldTypes == nil {
		q.FieldTypes = map[string]FieldType{}
	}
	if q.Instances == nil {
		q.Instances = []ProtocolInstance{}
	}
	for i := range q.Instances {
		if q.Instances[i].Fields == nil {
			q.Instances[i].Fields = map[string]string{}
		}
	}
	return &q
}

// lookupFields are the query parameters of a lookup without the access
// token; without a protocol, key (userid or alias) is required.
func (c *call) lookupFields(key string) (protocol string, fields map[string]string, err error) {
	protocol = c.r.PathValue("protocol")
	fields = map[string]string{}
	for k, v := range c.r.URL.Query() {
		if k != "access_token" && len(v) > 0 {
			fields[k] = v[0]
		}
	}
	if protocol == "" && fields[key] == "" {
		return "", nil, MissingParam(key + " is required")
	}
	return protocol, fields, nil
}

// The spec answers 404 M_NOT_FOUND when a lookup finds nothing ("No
// users were found with the given parameters"), rather than an empty
// array.
func (c *call) thirdPartyUsers() (any, error) {
	protocol, fields, err := c.lookupFields("userid")
	if err != nil {
		return nil, err
	}
	var out []ThirdPartyUser
	if c.s.ThirdParty != nil {
		if out, err = c.s.ThirdParty.Users(c.ctx, protocol, fields); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, NotFound("no third-party users found")
	}
	for i := range out {
		if out[i].Fields == nil {
			out[i].Fields = map[string]string{}
		}
	}
	return out, nil
}

func (c *call) thirdPartyLocations() (any, error) {
	protocol, fields, err := c.lookupFields("alias")
	if err != nil {
		return nil, err
	}
	var out []ThirdPartyLocation
	if c.s.ThirdParty != nil {
		if out, err = c.s.ThirdParty.Locations(c.ctx, protocol, fields); err != nil {
			return nil, err
		}
	}
	if len(out) == 0 {
		return nil, NotFound("no third-party locations found")
	}
	for i := range out {
		if out[i].Fields == nil {
			out[i].Fields = map[string]string{}
		}
	}
	return out, nil
}

// appServiceOnly is the check of both application service endpoints: the
// backend must be set, and the request made with an as_token.
func (c *call) appServiceOnly() error {
	if err := need(c.s.AppServices != nil); err != nil {
		return err
	}
	if c.who.AppService == "" {
		return Forbidden("only application services may use this endpoint")
	}
	return nil
}

func (c *call) appServicePing() (any, error) {
	if err := c.appServiceOnly(); err != nil {
		return nil, err
	}
	if c.r.PathValue("appserviceId") != c.who.AppService {
		return nil, Forbidden("the access token does not belong to this application service")
	}
	var b struct {
		TransactionID string `json:"transaction_id"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	d, err := c.s.AppServices.PingAppService(c.ctx, c.who.AppService, b.TransactionID)
	if err != nil {
		return nil, err
	}
	return map[string]int64{"duration_ms": d.Milliseconds()}, nil
}

func (c *call) appServiceDirectory() (any, error) {
	if err := c.appServiceOnly(); err != nil {
		return nil, err
	}
	roomID, err := c.roomIDParam("roomId")
	if err != nil {
		return nil, err
	}
	network := c.r.PathValue("networkId")
	if network == "" {
		return nil, InvalidParam("networkId must not be empty")
	}
	var b struct {
		Visibility *string `json:"visibility"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	var public bool
	switch {
	case b.Visibility == nil:
		return nil, MissingParam("visibility is required")
	case *b.Visibility == "public":
		public = true
	case *b.Visibility == "private":
	default:
		return nil, InvalidParam(`visibility must be "public" or "private"`)
	}
	return struct{}{}, c.s.AppServices.SetAppServiceRoomVisibility(c.ctx, c.who.AppService, network, roomID, public)
}

// MemoryThirdParty is ThirdParty over fixed lists, for tests and for
// programs whose networks are known in advance. A lookup by fields finds
// the entries of the protocol whose fields include all those asked (other
// query parameters than the protocol's user or location fields are
// ignored). It is safe for concurrent use; fill it before serving or
// under its Set methods.
type MemoryThirdParty struct {
	mu        sync.RWMutex
	protocols map[string]*Protocol
	users     []ThirdPartyUser
	locations []ThirdPartyLocation
}

// SetProtocol adds or replaces a protocol.
func (m *MemoryThirdParty) SetProtocol(name string, p *Protocol) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.protocols == nil {
		m.protocols = map[string]*Protocol{}
	}
	m.protocols[name] = p
}

// AddUser adds a third-party user.
func (m *MemoryThirdParty) AddUser(u ThirdPartyUser) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users = append(m.users, u)
}

// AddLocation adds a third-party location.
func (m *MemoryThirdParty) AddLocation(l ThirdPartyLocation) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.locations = append(m.locations, l)
}

// Protocols implements ThirdParty.
func (m *MemoryThirdParty) Protocols(context.Context) (map[string]*Protocol, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string]*Protocol, len(m.protocols))
	for k, v := range m.protocols {
		out[k] = v
	}
	return out, nil
}

// Protocol implements ThirdParty.
func (m *MemoryThirdParty) Protocol(_ context.Context, name string) (*Protocol, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.protocols[name], nil
}

// Users implements ThirdParty.
func (m *MemoryThirdParty) Users(_ context.Context, protocol string, fields map[string]string) ([]ThirdPartyUser, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []ThirdPartyUser
	for _, u := range m.users {
		if protocol == "" && u.UserID == fields["userid"] ||
			protocol != "" && u.Protocol == protocol && m.fieldsMatch(protocol, u.Fields, fields, func(p *Protocol) []string { return p.UserFields }) {
			out = append(out, u)
		}
	}
	return out, nil
}

// Locations implements ThirdParty.
func (m *MemoryThirdParty) Locations(_ context.Context, protocol string, fields map[string]string) ([]ThirdPartyLocation, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []ThirdPartyLocation
	for _, l := range m.locations {
		if protocol == "" && l.Alias == fields["alias"] ||
			protocol != "" && l.Protocol == protocol && m.fieldsMatch(protocol, l.Fields, fields, func(p *Protocol) []string { return p.LocationFields }) {
			out = append(out, l)
		}
	}
	return out, nil
}

// fieldsMatch reports whether have agrees with every field of the
// protocol that want gives.
func (m *MemoryThirdParty) fieldsMatch(protocol string, have, want map[string]string, names func(*Protocol) []string) bool {
	p := m.protocols[protocol]
	if p == nil {
		return false
	}
	for _, k := range names(p) {
		if v, ok := want[k]; ok && have[k] != v {
			return false
		}
	}
	return true
}

var _ ThirdParty = (*MemoryThirdParty)(nil)
