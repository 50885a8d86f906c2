package appservice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
)

// This file holds the typed side of the third-party network lookups
// (content/application-service-api.md, "Third-party networks";
// data/api/application-service/protocols.yaml and definitions/protocol*.yaml):
// the shapes a service answers with, their parsers for the homeserver, and
// ThirdParty, which lets a bridge answer with typed functions.

// Protocol is the metadata of a third-party protocol
// (definitions/protocol.yaml).
type Protocol struct {
	// UserFields and LocationFields name, in order, the fields that
	// identify a user and a location on the network.
	UserFields     []string `json:"user_fields"`
	LocationFields []string `json:"location_fields"`
	// Icon is a content URI for the protocol.
	Icon string `json:"icon"`
	// FieldTypes describes every field named in UserFields and
	// LocationFields.
	FieldTypes map[string]FieldType `json:"field_types"`
	// Instances are the networks the service bridges for the protocol.
	Instances []ProtocolInstance `json:"instances"`
}

// FieldType describes one field of a protocol.
type FieldType struct {
	Regexp      string `json:"regexp"`
	Placeholder string `json:"placeholder"`
}

// ProtocolInstance is one network of a protocol
// (definitions/protocol_instance.yaml): desc, fields and network_id are
// required.
type ProtocolInstance struct {
	Desc      string            `json:"desc"`
	Icon      string            `json:"icon,omitempty"`
	Fields    map[string]string `json:"fields"`
	NetworkID string            `json:"network_id"`
}

// ThirdPartyUser is a user of a third-party network and the Matrix user
// that stands for it (definitions/user_batch.yaml).
type ThirdPartyUser struct {
	UserID   string            `json:"userid"`
	Protocol string            `json:"protocol"`
	Fields   map[string]string `json:"fields"`
}

// ThirdPartyLocation is a place on a third-party network and the room
// alias that reaches it (definitions/location_batch.yaml).
type ThirdPartyLocation struct {
	Alias    string            `json:"alias"`
	Protocol string            `json:"protocol"`
	Fields   map[string]string `json:"fields"`
}

// ErrBadThirdParty is wrapped by the errors of ParseProtocol,
// ParseThirdPartyUsers and ParseThirdPartyLocations.
var ErrBadThirdParty = errors.New("appservice: malformed third-party answer")

// ParseProtocol parses the answer of GET
// /_matrix/app/v1/thirdparty/protocol/{protocol}. Every required key must
// be there with its type: a homeserver passes the metadata on to clients,
// so a service's mistake is caught here rather than in a client. Nil
// lists and maps are returned empty.
func ParseProtocol(data []byte) (*Protocol, error) {
	var raw struct {
		UserFields     *[]string             `json:"user_fields"`
		LocationFields *[]string             `json:"location_fields"`
		Icon           *string               `json:"icon"`
		FieldTypes     *map[string]FieldType `json:"field_types"`
		Instances      *[]struct {
			Desc      *string            `json:"desc"`
			Icon      string             `json:"icon"`
			Fields    *map[string]string `json:"fields"`
			NetworkID *string            `json:"network_id"`
		} `json:"instances"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: protocol: %v", ErrBadThirdParty, err)
	}
	switch {
	case raw.UserFields == nil:
		return nil, fmt.Errorf("%w: protocol: user_fields is required", ErrBadThirdParty)
	case raw.LocationFields == nil:
		return nil, fmt.Errorf("%w: protocol: location_fields is required", ErrBadThirdParty)
	case raw.Icon == nil:
		return nil, fmt.Errorf("%w: protocol: icon is required", ErrBadThirdParty)
	case raw.FieldTypes == nil:
		return nil, fmt.Errorf("%w: protocol: field_types is required", ErrBadThirdParty)
	case raw.Instances == nil:
		return nil, fmt.Errorf("%w: protocol: instances is required", ErrBadThirdParty)
	}
	p := &Protocol{UserFields: nonNil(*raw.UserFields), LocationFields: nonNil(*raw.LocationFields), Icon: *raw.Icon,
		FieldTypes: *raw.FieldTypes, Instances: []ProtocolInstance{}}
	if p.FieldTypes == nil {
		p.FieldTypes = map[string]FieldType{}
	}
	for i, in := range *raw.Instances {
		if in.Desc == nil || in.Fields == nil || in.NetworkID == nil {
			return nil, fmt.Errorf("%w: protocol: instances[%d] needs desc, fields and network_id", ErrBadThirdParty, i)
		}
		f := *in.Fields
		if f == nil {
			f = map[string]string{}
		}
		p.Instances = append(p.Instances, ProtocolInstance{Desc: *in.Desc, Icon: in.Icon, Fields: f, NetworkID: *in.NetworkID})
	}
	return p, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ParseThirdPartyUsers parses the answer of GET
// /_matrix/app/v1/thirdparty/user[/{protocol}]: an array whose entries
// all have userid, protocol and fields.
func ParseThirdPartyUsers(data []byte) ([]ThirdPartyUser, error) {
	var raw []struct {
		UserID   *string            `json:"userid"`
		Protocol *string            `json:"protocol"`
		Fields   *map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: users: %v", ErrBadThirdParty, err)
	}
	out := make([]ThirdPartyUser, 0, len(raw))
	for i, u := range raw {
		if u.UserID == nil || u.Protocol == nil || u.Fields == nil {
			return nil, fmt.Errorf("%w: users[%d] needs userid, protocol and fields", ErrBadThirdParty, i)
		}
		out = append(out, ThirdPartyUser{UserID: *u.UserID, Protocol: *u.Protocol, Fields: nonNilMap(*u.Fields)})
	}
	return out, nil
}

// ParseThirdPartyLocations parses the answer of GET
// /_matrix/app/v1/thirdparty/location[/{protocol}]: an array whose
// entries all have alias, protocol and fields.
func ParseThirdPartyLocations(data []byte) ([]ThirdPartyLocation, error) {
	var raw []struct {
		Alias    *string            `json:"alias"`
		Protocol *string            `json:"protocol"`
		Fields   *map[string]string `json:"fields"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("%w: locations: %v", ErrBadThirdParty, err)
	}
	out := make([]ThirdPartyLocation, 0, len(raw))
	for i, l := range raw {
		if l.Alias == nil || l.Protocol == nil || l.Fields == nil {
			return nil, fmt.Errorf("%w: locations[%d] needs alias, protocol and fields", ErrBadThirdParty, i)
		}
		out = append(out, ThirdPartyLocation{Alias: *l.Alias, Protocol: *l.Protocol, Fields: nonNilMap(*l.Fields)})
	}
	return out, nil
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// ThirdParty is a ThirdPartyService answered by typed functions, for a
// bridge to set as (or embed in) its Service. Protocols is the metadata of
// each protocol the service provides (the registration's protocols list);
// a nil function, or one returning no result, answers 404 M_NOT_FOUND, as
// protocols.yaml says for a lookup that finds nothing. Fields are the
// request's query parameters (the first value of each), without
// access_token.
type ThirdParty struct {
	Protocols        map[string]*Protocol
	Users            func(ctx context.Context, protocol string, fields map[string]string) ([]ThirdPartyUser, error)
	Locations        func(ctx context.Context, protocol string, fields map[string]string) ([]ThirdPartyLocation, error)
	UsersByID        func(ctx context.Context, userID string) ([]ThirdPartyUser, error)
	LocationsByAlias func(ctx context.Context, alias string) ([]ThirdPartyLocation, error)
}

var _ ThirdPartyService = (*ThirdParty)(nil)

// ThirdPartyProtocol implements ThirdPartyService.
func (t *ThirdParty) ThirdPartyProtocol(_ context.Context, protocol string) (json.RawMessage, error) {
	p := t.Protocols[protocol]
	if p == nil {
		return nil, nil
	}
	q := *p
	q.UserFields, q.LocationFields = nonNil(q.UserFields), nonNil(q.LocationFields)
	if q.FieldTypes == nil {
		q.FieldTypes = map[string]FieldType{}
	}
	if q.Instances == nil {
		q.Instances = []ProtocolInstance{}
	}
	return json.Marshal(q)
}

// ThirdPartyUsers implements ThirdPartyService.
func (t *ThirdParty) ThirdPartyUsers(ctx context.Context, protocol string, fields url.Values) (json.RawMessage, error) {
	if t.Users == nil || t.Protocols[protocol] == nil {
		return nil, nil
	}
	return answer(t.Users(ctx, protocol, firstValues(fields)))
}

// ThirdPartyLocations implements ThirdPartyService.
func (t *ThirdParty) ThirdPartyLocations(ctx context.Context, protocol string, fields url.Values) (json.RawMessage, error) {
	if t.Locations == nil || t.Protocols[protocol] == nil {
		return nil, nil
	}
	return answer(t.Locations(ctx, protocol, firstValues(fields)))
}

// ThirdPartyUsersByID implements ThirdPartyService.
func (t *ThirdParty) ThirdPartyUsersByID(ctx context.Context, userID string) (json.RawMessage, error) {
	if t.UsersByID == nil || userID == "" {
		return nil, nil
	}
	return answer(t.UsersByID(ctx, userID))
}

// ThirdPartyLocationsByAlias implements ThirdPartyService.
func (t *ThirdParty) ThirdPartyLocationsByAlias(ctx context.Context, alias string) (json.RawMessage, error) {
	if t.LocationsByAlias == nil || alias == "" {
		return nil, nil
	}
	return answer(t.LocationsByAlias(ctx, alias))
}

func answer[T any](list []T, err error) (json.RawMessage, error) {
	if err != nil || len(list) == 0 {
		return nil, err
	}
	return json.Marshal(list)
}

func firstValues(q url.Values) map[string]string {
	out := make(map[string]string, len(q))
	for k, v := range q {
		if len(v) > 0 {
			out[k] = v[0]
		}
	}
	return out
}

// ProtocolInfo is Protocol, parsed with ParseProtocol.
func (c *Client) ProtocolInfo(ctx context.Context, reg *Registration, protocol string) (*Protocol, error) {
	raw, err := c.Protocol(ctx, reg, protocol)
	if err != nil {
		return nil, err
	}
	return ParseProtocol(raw)
}

// LookupUsers asks for third-party users: of a protocol by fields when
// protocol is not "", else by Matrix user ID (fields["userid"]). The answer
// is parsed with ParseThirdPartyUsers.
func (c *Client) LookupUsers(ctx context.Context, reg *Registration, protocol string, fields url.Values) ([]ThirdPartyUser, error) {
	var raw json.RawMessage
	var err error
	if protocol != "" {
		raw, err = c.ThirdPartyUsers(ctx, reg, protocol, fields)
	} else {
		raw, err = c.ThirdPartyUsersByID(ctx, reg, fields.Get("userid"))
	}
	if err != nil {
		return nil, err
	}
	return ParseThirdPartyUsers(raw)
}

// LookupLocations asks for third-party locations: of a protocol by fields
// when protocol is not "", else by room alias (fields["alias"]).
func (c *Client) LookupLocations(ctx context.Context, reg *Registration, protocol string, fields url.Values) ([]ThirdPartyLocation, error) {
	var raw json.RawMessage
	var err error
	if protocol != "" {
		raw, err = c.ThirdPartyLocations(ctx, reg, protocol, fields)
	} else {
		raw, err = c.ThirdPartyLocationsByAlias(ctx, reg, fields.Get("alias"))
	}
	if err != nil {
		return nil, err
	}
	return ParseThirdPartyLocations(raw)
}
