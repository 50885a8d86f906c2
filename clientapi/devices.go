package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
)

// Devices manages a user's devices
// (content/client-server-api/modules/device_management.md). Optional: without it the device endpoints
// answer 404 M_UNRECOGNIZED.
type Devices interface {
	// Devices lists the user's devices.
	Devices(ctx context.Context, who Identity) ([]Device, error)
	// SetDeviceDisplayName renames one of the user's devices;
	// M_NOT_FOUND for a device the user does not have.
	SetDeviceDisplayName(ctx context.Context, who Identity, deviceID, name string) error
	// DeleteDevices deletes devices of the user and invalidates their
	// access tokens. Devices the user does not have are ignored.
	DeleteDevices(ctx context.Context, who Identity, deviceIDs []string) error
}

// Device is one device of GET /devices.
type Device struct {
	DeviceID    string `json:"device_id"`
	DisplayName string `json:"display_name,omitempty"`
	LastSeenIP  string `json:"last_seen_ip,omitempty"`
	LastSeenTS  int64  `json:"last_seen_ts,omitempty"`
}

func (s *Server) deviceRoutes(add addFunc) {
	L := legacyPrefixes
	add(L, "GET", "/devices", authRequired, (*call).devices)
	add(L, "GET", "/devices/{deviceId}", authRequired, (*call).device)
	add(L, "PUT", "/devices/{deviceId}", authRequired, (*call).putDevice)
	add(L, "DELETE", "/devices/{deviceId}", authRequired, (*call).deleteDevice)
	add(L, "POST", "/delete_devices", authRequired, (*call).deleteDevices)
}

func (c *call) devices() (any, error) {
	if err := need(c.s.Devices != nil); err != nil {
		return nil, err
	}
	ds, err := c.s.Devices.Devices(c.ctx, c.who)
	if err != nil {
		return nil, err
	}
	if ds == nil {
		ds = []Device{}
	}
	return map[string][]Device{"devices": ds}, nil
}

func (c *call) device() (any, error) {
	if err := need(c.s.Devices != nil); err != nil {
		return nil, err
	}
	ds, err := c.s.Devices.Devices(c.ctx, c.who)
	if err != nil {
		return nil, err
	}
	id := c.r.PathValue("deviceId")
	for _, d := range ds {
		if d.DeviceID == id {
			return d, nil
		}
	}
	return nil, NotFound("unknown device")
}

func (c *call) putDevice() (any, error) {
	if err := need(c.s.Devices != nil); err != nil {
		return nil, err
	}
	var b struct {
		DisplayName *string `json:"display_name"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	if b.DisplayName == nil {
		return struct{}{}, nil
	}
	if len(*b.DisplayName) > 100 {
		// The reference server's limit on device display names.
		return nil, InvalidParam("display_name is longer than 100 bytes")
	}
	return struct{}{}, c.s.Devices.SetDeviceDisplayName(c.ctx, c.who, c.r.PathValue("deviceId"), *b.DisplayName)
}

func (c *call) deleteDevice() (any, error) {
	if err := need(c.s.Devices != nil); err != nil {
		return nil, err
	}
	var b struct {
		Auth json.RawMessage `json:"auth"`
	}
	if err := c.decode(&b, true); err != nil {
		return nil, err
	}
	id := c.r.PathValue("deviceId")
	if err := c.userUIA("DELETE devices/"+id, b.Auth); err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Devices.DeleteDevices(c.ctx, c.who, []string{id})
}

func (c *call) deleteDevices() (any, error) {
	if err := need(c.s.Devices != nil); err != nil {
		return nil, err
	}
	var b struct {
		Devices []string        `json:"devices"`
		Auth    json.RawMessage `json:"auth"`
	}
	if err := c.decode(&b, false); err != nil {
		return nil, err
	}
	if b.Devices == nil {
		return nil, MissingParam("devices is required")
	}
	if err := c.userUIA("POST delete_devices", b.Auth); err != nil {
		return nil, err
	}
	return struct{}{}, c.s.Devices.DeleteDevices(c.ctx, c.who, b.Devices)
}

// userUIA asks the requesting user to confirm with their password.
// Application services skip it: they have no password, and the
// reference server lets them act without UIA.
func (c *call) userUIA(operation string, auth json.RawMessage) error {
	if c.who.AppService != "" {
		return nil
	}
	if c.s.Accounts == nil {
		return NewError(http.StatusForbidden, CodeForbidden, "no way to confirm your identity on this server")
	}
	return c.s.uia.Check(c.ctx, auth, UIARequest{
		Operation:     c.who.UserID + " " + operation,
		Flows:         []UIAFlow{{Stages: []string{AuthTypePassword}}},
		UserID:        c.who.UserID,
		ServerName:    c.s.ServerName,
		CheckPassword: c.s.Accounts.CheckPassword,
	})
}
