package main

import (
	"testing"
)

// TestDevices: /devices lists the user's logins, a device can be renamed,
// and deleting one (with the password through user-interactive auth) ends
// its login.
func TestDevices(t *testing.T) {
	t.Parallel()
	hs := startInProcess(t, "dev.test", false, nil)
	alice := register(t, hs.hs.ClientURL(), "alice")
	phone := login(t, hs.hs.ClientURL(), "alice")
	var who struct {
		DeviceID string `json:"device_id"`
	}
	phone.must("GET", "/account/whoami", nil, &who)
	var list struct {
		Devices []struct {
			DeviceID    string `json:"device_id"`
			DisplayName string `json:"display_name"`
		} `json:"devices"`
	}
	alice.must("GET", "/devices", nil, &list)
	if len(list.Devices) != 2 {
		t.Fatalf("devices %+v", list)
	}
	alice.must("PUT", "/devices/"+who.DeviceID, map[string]string{"display_name": "Phone"}, nil)
	var one struct {
		DisplayName string `json:"display_name"`
	}
	alice.must("GET", "/devices/"+who.DeviceID, nil, &one)
	if one.DisplayName != "Phone" {
		t.Fatalf("renamed device %+v", one)
	}
	alice.must("POST", "/delete_devices", map[string]any{"devices": []string{who.DeviceID},
		"auth": map[string]any{"type": "m.login.password", "identifier": map[string]string{"type": "m.id.user", "user": "alice"}, "password": "pw-alice"}}, nil)
	if code, _ := phone.do("GET", "/account/whoami", nil, nil); code != 401 {
		t.Fatalf("the deleted device is still logged in: %d", code)
	}
	alice.must("GET", "/devices", nil, &list)
	if len(list.Devices) != 1 {
		t.Fatalf("devices after the deletion %+v", list)
	}
}
