// Package event implements Matrix PDUs (persistent data units, the events
// of a room as servers exchange them): parsing and validating them for a
// room version, their content and reference hashes, event IDs, building
// and signing new events, and checking the hashes and signatures of
// received ones.
//
// # Parsing
//
// Parse reads a PDU in the federation format of its room version (the
// specification's PDU schemas, data/api/server-server/definitions/pdu_v1.yaml
// to pdu_v12.yaml, shown on the room version pages content/rooms/v1.md …
// v12.md; content/server-server-api.md, "PDUs"). It checks, in one pass
// over the bytes and without building maps:
//
//   - the JSON: syntax, UTF-8, no duplicate key in any object in any room
//     version, and from room version 6 the number rules of canonical JSON
//     (content/appendices.md, "Canonical JSON"; content/rooms/v6.md): integers
//     only, within ±(2^53-1);
//   - the size limits of content/client-server-api/_index.md, "Size limits":
//     at most 65536 bytes as canonical JSON, and sender, room_id,
//     state_key, type and event_id at most 255 bytes each; at most 20
//     prev_events and 10 auth_events (the PDU schemas);
//   - the fields the format requires and their types; the shape of
//     prev_events and auth_events (pairs of event ID and hashes in room
//     versions 1 and 2, plain event IDs later); the event_id that versions
//     1 and 2 carry and later versions do not; room_id, which a room version
//     12 create event omits (content/rooms/v12.md); depth from 0 to the
//     version's limit.
//
// A rejection is a *ValidationError naming the field and a stable rule
// identifier. The resulting *Event is immutable; it keeps the bytes it was
// parsed from and exposes the fields through accessors.
package event
