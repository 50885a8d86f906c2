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
//
// In room versions 6 and later any number with a fraction or an exponent
// is refused, even an integral one such as 1e3 or 10.0 that canonical
// JSON could write as an integer: the reference server (Synapse) parses
// such numbers as floats and refuses the event, and two servers must
// agree on which events exist. -0 is accepted there, as an integer.
//
// A missing or malformed hashes object is not a format error: such an
// event fails the content hash check and is used in its redacted form, as
// the reference server treats it (refusing it outright would drop state
// events that other servers keep). Likewise an unsigned that is not an
// object is ignored: no signature or hash covers it.
//
// Duplicate keys are refused in every room version, also in versions 1 to
// 5 where canonical JSON is not enforced: an event with two values for one
// key has no single meaning to hash or sign.
//
// # Hashes and IDs
//
// ContentHash and ReferenceHash compute the hashes of "Calculating the
// content hash for an event" and "Calculating the reference hash for an
// event" (content/server-server-api.md); they work on any JSON object, as
// a server's own hashing does, and an *Event has the same as methods. The
// event ID (content/rooms/fragments/v1-event-ids.md, v4-event-ids.md and
// content/rooms/v3.md) is the event's own event_id in room versions 1 and
// 2, and "$" and the reference hash in unpadded base64 from version 3:
// the standard alphabet in version 3, the URL-safe one from 4. An Event
// computes its ID on first use. The room ID of a room version 12 create
// event is "!" and its reference hash (content/rooms/v12.md).
//
// # Building and signing
//
// A Builder makes a new event: it fills the depth (one more than the
// deepest previous event, held at the version's limit), the references,
// in versions 1 and 2 the event_id, the content hash and the signature of
// the redacted event, as "Adding hashes and signatures to outgoing
// events" describes, and returns the parsed Event. Sign does the same
// hashing and signing on an event given as JSON.
//
// # Checking received events
//
// A Verifier checks what "Validating hashes and signatures on received
// events" and steps 2 and 3 of "Checks performed on receipt of a PDU"
// (content/server-server-api.md) ask. It finds the servers that must have
// signed the event (Event.RequiredSigners: the sender's server, except for
// an invite made from a third-party invite; the event_id's server in
// versions 1 and 2; the authorising server of a restricted join from
// version 8), checks each of their signatures over the redacted event with
// keys from a signing.KeyRing (skipping unknown keys and, from version 5,
// keys not valid at the event's origin_server_ts; at least one valid
// signature per server is required, and every one checked must verify),
// then the content hash. The result is Valid, Redact (the signatures are
// good but the content hash is not: carry on with the redacted event the
// result holds) or Invalid with the reason. VerifyAll does the same for a
// batch, such as the 50 PDUs of a transaction, with one key ring call for
// all of them and the signature checks spread over GOMAXPROCS goroutines.
//
// The signature check dominates the cost of checking an event; the rest
// is kept to one pass over each form. The signed form (the redacted event
// without signatures, which is also the reference hash's input, so the
// event ID comes from the same bytes) is made from the event's canonical
// bytes, copied as they are when they were canonical already, by
// redact.AppendCanonical; the content hash's input is copied from the
// same bytes; and the two are hashed together, their common prefix (up
// to the hashes member when the redaction keeps the content whole) once.
package event
