package main

import (
	"context"
	"database/sql"

	"github.com/mxkit/mxkit/clientapi"
)

var _ clientapi.Devices = (*Client)(nil)

// Devices implements clientapi.Devices (content/client-server-api
// "Device management").
func (c *Client) Devices(ctx context.Context, who clientapi.Identity) ([]clientapi.Device, error) {
	rows, err := c.db.query(ctx, `SELECT device_id, display_name FROM devices WHERE user_id = ? ORDER BY device_id`, who.UserID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []clientapi.Device
	for rows.Next() {
		var d clientapi.Device
		if err := rows.Scan(&d.DeviceID, &d.DisplayName); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// SetDeviceDisplayName implements clientapi.Devices.
func (c *Client) SetDeviceDisplayName(ctx context.Context, who clientapi.Identity, deviceID, name string) error {
	res, err := c.db.w.ExecContext(ctx, `UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?`, name, who.UserID, deviceID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return clientapi.NotFound("unknown device " + deviceID)
	}
	return nil
}

// DeleteDevices implements clientapi.Devices: the devices' access tokens,
// keys and queued to-device messages go, and the users sharing a room are
// told the device list changed.
func (c *Client) DeleteDevices(ctx context.Context, who clientapi.Identity, deviceIDs []string) error {
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		for _, d := range deviceIDs {
			if _, err := tx.ExecContext(ctx, `DELETE FROM tokens WHERE user_id = ? AND device_id = ?`, who.UserID, d); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM devices WHERE user_id = ? AND device_id = ?`, who.UserID, d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || c.e2ee == nil || len(deviceIDs) == 0 {
		return err
	}
	return c.e2ee.DeviceChanged(ctx, who.UserID, deviceIDs...)
}
