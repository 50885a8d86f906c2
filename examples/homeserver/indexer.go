package main

import (
	"context"
	"database/sql"
	"errors"

	"github.com/mxkit/mxkit/federation"
)

// indexBatch is how many events an index catch-up reads at a time.
const indexBatch = 500

// catchUpIndex feeds the accepted events stored after the index's position
// to add, in stream order and in batches, and moves the position (a one-row
// table, id 1) in the same transaction as each batch. filter narrows the
// events read (an SQL condition on the events table); table and filter are
// constants of the callers, never input.
func (c *Client) catchUpIndex(ctx context.Context, table, filter string, add func(tx *sql.Tx, se *StoredEvent) error) error {
	var pos int64
	if err := c.db.queryRow(ctx, `SELECT stream FROM `+table+` WHERE id = 1`).Scan(&pos); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	for {
		// The head is read first: an event stored after this read has a
		// higher position and waits for the next catch-up. Reading it
		// after the events would move the position over an event stored
		// in between, which would never be indexed.
		var head int64
		if err := c.db.queryRow(ctx, `SELECT coalesce(max(stream), 0) FROM events`).Scan(&head); err != nil {
			return err
		}
		evs, err := c.indexEventsAfter(ctx, pos, head, filter)
		if err != nil {
			return err
		}
		last := head
		if len(evs) == indexBatch {
			last = evs[len(evs)-1].Stream // more may follow, up to head
		}
		err = c.db.Tx(ctx, func(tx *sql.Tx) error {
			for _, se := range evs {
				if err := add(tx, se); err != nil {
					return err
				}
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (id, stream) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET stream = excluded.stream`, last)
			return err
		})
		if err != nil || len(evs) < indexBatch {
			return err
		}
		pos = last
	}
}

// indexEventsAfter reads the next batch of accepted, non-outlier events
// after pos, up to head, that match filter.
func (c *Client) indexEventsAfter(ctx context.Context, pos, head int64, filter string) ([]*StoredEvent, error) {
	rows, err := c.db.query(ctx, `SELECT `+eventCols+` FROM events WHERE stream > ? AND stream <= ? AND status = ? AND state_after != 0
		AND `+filter+` ORDER BY stream LIMIT ?`, pos, head, federation.Accepted, indexBatch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []*StoredEvent
	for rows.Next() {
		se, err := c.db.scanEvent(rows, c.rooms.Version)
		if err != nil {
			return nil, err
		}
		evs = append(evs, se)
	}
	return evs, rows.Err()
}
