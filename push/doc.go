// Package push implements push rules, their evaluation, and the client of
// the Push Gateway API (content/client-server-api/modules/push.md, "Push
// Notifications"; content/push-gateway-api.md).
//
// A user's rules are a Ruleset: five kinds checked in order (override,
// content, room, sender, underride; "Push Rules"), each a list in priority
// order. DefaultRules gives the server-default rules of "Predefined Rules"
// (v1.17 and later: no legacy body-mention rules); a homeserver merges a
// user's changes into them (clientapi.EffectivePushRules does).
//
// Evaluate finds the first enabled rule that matches an event and returns
// its actions, with the "notify" decision and the tweaks already read.
// The event is raw JSON (client or federation format: both carry type,
// content, sender, state_key and room_id at the top level) and is read in
// place, without decoding it into maps. The conditions are those of
// "Conditions":
//
//   - event_match: a glob (appendices, "Glob-style matching") matched
//     case-insensitively against the whole string at a dot-separated path
//     (appendices, "Dot-separated property paths"); for content.body, and
//     for content rules, against any substring that starts and ends at a
//     word boundary. A path that is absent or not a string never matches,
//     even with the pattern "*".
//   - event_property_is / event_property_contains: an exact match of a
//     string, integer in the canonical range, boolean or null, at a path
//     (for contains, among an array's elements).
//   - contains_display_name (deprecated in v1.17): the user's display name
//     in the room, at word boundaries in content.body.
//   - room_member_count: the room's joined members against "is" (a number
//     with an optional ==, <, >, <= or >= prefix).
//   - sender_notification_permission: the sender's power level against the
//     room's notifications level for the key (default 50).
//
// An unrecognised condition never matches, which disables its rule. The
// historical actions dont_notify and coalesce are dropped ("Historical
// Actions"). Choices where the specification leaves room, each with a test:
// "case-insensitive" is Unicode simple case folding; a glob's * and ? match
// any character, a line break too; a word boundary is any character
// outside [A-Za-z0-9_], as the specification defines it (so a letter such
// as é is a boundary, as in the reference server's regular expressions).
package push
