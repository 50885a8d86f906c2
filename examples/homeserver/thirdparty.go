package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mxkit/mxkit/appservice"
	"github.com/mxkit/mxkit/clientapi"
)

// The client-server endpoints answered by the registered application
// services (none without --appservice):
//
//   - third-party lookups (content/client-server-api/modules/third_party_networks.md):
//     a protocol is asked of every service whose registration lists it; the
//     metadata is the first service's answer, the instances those of all of
//     them, each given instance_id "<service id>|<network_id>" (the reference
//     server's form). User and location lookups of a protocol go to the same
//     services; those by Matrix user ID or room alias to the services with
//     protocols whose user or alias namespace holds the ID. The answers are
//     concatenated; a service that fails, times out or answers badly is left
//     out (and logged), and nothing found is 404 M_NOT_FOUND;
//   - POST /_matrix/client/v1/appservice/{appserviceId}/ping, which calls the
//     service's /_matrix/app/v1/ping and ends its Sender's backoff on success;
//   - PUT /directory/list/appservice/{networkId}/{roomId}: the service's
//     network room lists (appservice_room_list), which POST /publicRooms
//     shows with third_party_instance_id "<service id>|<network_id>" (that
//     network only) or include_all_networks (with the server's own list);
//     without either, only the server's own list.

// thirdPartyTimeout bounds each question to a service, so that one that
// hangs does not hold the client's request for the HTTP client's minute.
const thirdPartyTimeout = 10 * time.Second

// asBackend implements clientapi.ThirdParty and clientapi.AppServices.
type asBackend struct{ hs *Homeserver }

var (
	_ clientapi.ThirdParty  = asBackend{}
	_ clientapi.AppServices = asBackend{}
)

func (b asBackend) services() []*appservice.Registration {
	if b.hs.as == nil {
		return nil
	}
	return b.hs.as.reg.Services()
}

// Protocols implements clientapi.ThirdParty.
func (b asBackend) Protocols(ctx context.Context) (map[string]*clientapi.Protocol, error) {
	out := map[string]*clientapi.Protocol{}
	for _, r := range b.services() {
		for _, name := range r.Protocols {
			if _, done := out[name]; done {
				continue
			}
			p, err := b.Protocol(ctx, name)
			if err != nil {
				return nil, err
			}
			if p != nil {
				out[name] = p
			}
		}
	}
	return out, nil
}

// Protocol implements clientapi.ThirdParty.
func (b asBackend) Protocol(ctx context.Context, name string) (*clientapi.Protocol, error) {
	var out *clientapi.Protocol
	for _, r := range b.services() {
		if !r.ProvidesProtocol(name) {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, thirdPartyTimeout)
		p, err := b.hs.as.client.ProtocolInfo(cctx, r, name)
		cancel()
		if err != nil {
			b.skip(r, "protocol "+name, err)
			continue
		}
		if out == nil {
			out = &clientapi.Protocol{UserFields: p.UserFields, LocationFields: p.LocationFields, Icon: p.Icon,
				FieldTypes: map[string]clientapi.FieldType{}, Instances: []clientapi.ProtocolInstance{}}
			for k, v := range p.FieldTypes {
				out.FieldTypes[k] = clientapi.FieldType{Regexp: v.Regexp, Placeholder: v.Placeholder}
			}
		}
		for _, in := range p.Instances {
			out.Instances = append(out.Instances, clientapi.ProtocolInstance{Desc: in.Desc, Icon: in.Icon, Fields: in.Fields,
				NetworkID: in.NetworkID, InstanceID: instanceID(r.ID, in.NetworkID)})
		}
	}
	return out, nil
}

// instanceID names a service's network on this server.
func instanceID(serviceID, networkID string) string { return serviceID + "|" + networkID }

// skip logs a service left out of a lookup; 404 (nothing there) is normal.
func (b asBackend) skip(r *appservice.Registration, what string, err error) {
	var se *appservice.StatusError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		return
	}
	b.hs.log.Info("application service lookup failed", "service", r.ID, "lookup", what, "err", err)
}

// lookupServices are the services asked about protocol, or, for a lookup
// by ID (protocol ""), those with protocols whose namespace holds the ID.
func (b asBackend) lookupServices(protocol string, inNamespace func(*appservice.Registration) bool) []*appservice.Registration {
	var out []*appservice.Registration
	for _, r := range b.services() {
		if protocol != "" && r.ProvidesProtocol(protocol) || protocol == "" && len(r.Protocols) > 0 && inNamespace(r) {
			out = append(out, r)
		}
	}
	return out
}

func values(fields map[string]string) url.Values {
	q := url.Values{}
	for k, v := range fields {
		q.Set(k, v)
	}
	return q
}

// Users implements clientapi.ThirdParty.
func (b asBackend) Users(ctx context.Context, protocol string, fields map[string]string) ([]clientapi.ThirdPartyUser, error) {
	var out []clientapi.ThirdPartyUser
	for _, r := range b.lookupServices(protocol, func(r *appservice.Registration) bool { return r.UserInNamespace(fields["userid"]) }) {
		cctx, cancel := context.WithTimeout(ctx, thirdPartyTimeout)
		us, err := b.hs.as.client.LookupUsers(cctx, r, protocol, values(fields))
		cancel()
		if err != nil {
			b.skip(r, "users", err)
			continue
		}
		for _, u := range us {
			out = append(out, clientapi.ThirdPartyUser{UserID: u.UserID, Protocol: u.Protocol, Fields: u.Fields})
		}
	}
	return out, nil
}

// Locations implements clientapi.ThirdParty.
func (b asBackend) Locations(ctx context.Context, protocol string, fields map[string]string) ([]clientapi.ThirdPartyLocation, error) {
	var out []clientapi.ThirdPartyLocation
	for _, r := range b.lookupServices(protocol, func(r *appservice.Registration) bool { return r.AliasInNamespace(fields["alias"]) }) {
		cctx, cancel := context.WithTimeout(ctx, thirdPartyTimeout)
		ls, err := b.hs.as.client.LookupLocations(cctx, r, protocol, values(fields))
		cancel()
		if err != nil {
			b.skip(r, "locations", err)
			continue
		}
		for _, l := range ls {
			out = append(out, clientapi.ThirdPartyLocation{Alias: l.Alias, Protocol: l.Protocol, Fields: l.Fields})
		}
	}
	return out, nil
}

// PingAppService implements clientapi.AppServices.
func (b asBackend) PingAppService(ctx context.Context, id, txnID string) (time.Duration, error) {
	if b.hs.as == nil || b.hs.as.reg.ByID(id) == nil {
		return 0, clientapi.Forbidden("no such application service")
	}
	r := b.hs.as.reg.ByID(id)
	if r.URL == "" {
		return 0, clientapi.NewError(http.StatusBadRequest, appservice.CodeURLNotSet, "the application service has no url")
	}
	d, err := b.hs.as.client.Ping(ctx, r, txnID)
	if err != nil {
		return 0, appservice.PingError(err)
	}
	// A service that answers is up: retry its queued transactions now,
	// as the reference server does.
	if s := b.hs.as.senders[r.ID]; s != nil {
		s.Retry()
	}
	return d, nil
}

// SetAppServiceRoomVisibility implements clientapi.AppServices.
func (b asBackend) SetAppServiceRoomVisibility(ctx context.Context, id, networkID, roomID string, public bool) error {
	if _, err := b.hs.rooms.Version(roomID); err != nil {
		return clientapi.NotFound("unknown room")
	}
	var err error
	if public {
		_, err = b.hs.db.w.ExecContext(ctx, `INSERT OR IGNORE INTO appservice_room_list (service_id, network_id, room_id, ts) VALUES (?, ?, ?, ?)`,
			id, networkID, roomID, time.Now().UnixMilli())
	} else {
		_, err = b.hs.db.w.ExecContext(ctx, `DELETE FROM appservice_room_list WHERE service_id = ? AND network_id = ? AND room_id = ?`, id, networkID, roomID)
	}
	return err
}

// directoryQuery is the query of the room IDs /publicRooms lists
// (list_public_rooms.yaml: third_party_instance_id names one network,
// include_all_networks adds every network to the server's own list).
func directoryQuery(includeAll bool, instance string) (string, []any, error) {
	switch {
	case instance != "":
		service, network, ok := strings.Cut(instance, "|")
		if !ok || service == "" || network == "" {
			return "", nil, clientapi.InvalidParam("unknown third_party_instance_id")
		}
		return `SELECT room_id FROM appservice_room_list WHERE service_id = ? AND network_id = ? ORDER BY ts, room_id`, []any{service, network}, nil
	case includeAll:
		return `SELECT room_id FROM (SELECT room_id, ts FROM room_directory UNION ALL SELECT room_id, ts FROM appservice_room_list)
			GROUP BY room_id ORDER BY min(ts), room_id`, nil, nil
	}
	return `SELECT room_id FROM room_directory ORDER BY ts, room_id`, nil, nil
}
