package eventauth

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"weak"

	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// Infinite is the power level of a room's creators in room versions whose
// creators are privileged (v12): higher than any level a power levels event
// can give.
const Infinite int64 = math.MaxInt64

// The scalar properties of m.room.power_levels, in the order the
// authorization rules list them.
const (
	scUsersDefault = iota
	scEventsDefault
	scStateDefault
	scBan
	scRedact
	scKick
	scInvite
	numScalars
)

var scalarNames = [numScalars]string{"users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"}

// scalarDefaults are the values of content/client-server-api "m.room.power_levels"
// and content/server-server-api.md, "Definitions", for a property that is
// absent (with or without a power levels event).
var scalarDefaults = [numScalars]int64{0, 0, 50, 50, 50, 50, 0}

// The maps of m.room.power_levels.
const (
	secEvents = iota
	secNotifications
	secUsers
	numSections
)

var sectionNames = [numSections]string{"events", "notifications", "users"}

// levelMap is a parsed map of levels that keeps the keys in an index, so
// that a change can be compared with it without building a second map.
type levelMap struct {
	idx  map[string]int32
	keys []string
	vals []Level
}

func (m *levelMap) get(k string) (Level, bool) {
	if i, ok := m.idx[k]; ok {
		return m.vals[i], true
	}
	return Level{}, false
}

func (m *levelMap) set(k string, n Level) {
	if i, ok := m.idx[k]; ok {
		m.vals[i] = n
		return
	}
	if m.idx == nil {
		m.idx = make(map[string]int32)
	}
	m.idx[k] = int32(len(m.keys))
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, n)
}

// plContent is the parsed content of one m.room.power_levels event.
type plContent struct {
	scalars  [numScalars]Level
	has      [numScalars]bool
	sections [numSections]levelMap
}

func (c *plContent) scalar(i int) Level {
	if c != nil && c.has[i] {
		return c.scalars[i]
	}
	return Level{n: scalarDefaults[i]}
}

// plVisitor receives what walkPowerLevels finds.
type plVisitor interface {
	scalar(i int, n Level)
	section(sec int) // a map begins (again: a repeated key replaces it)
	entry(sec int, key []byte, escaped bool, n Level)
}

// walkPowerLevels validates the content of a power levels event against
// the rules of the room version and reports every value to vis. It
// returns the rejection for content the rules refuse:
//
//   - power_levels.not_integer: a scalar, or a value of events or
//     notifications, is not a power level (v10+: not a JSON integer; before,
//     not an integer, an integer string or, v1-v5, a number), or events or
//     notifications is not an object;
//   - power_levels.users: users is not an object whose keys are valid user
//     IDs and whose values are power levels.
//
// The rules before v10 only state the check of users; this package holds
// the other values to the same encodings too (as ruma does, and as the
// reference server's integer conversion fails on them), except
// notifications before v6, which plays no part in the rules there and is
// ignored.
func walkPowerLevels(content []byte, r levelRules, notifications bool, vis plVisitor) *Rejection {
	it, ok := newObjIter(content)
	if !ok {
		return reject("power_levels.not_integer", "the content is not a JSON object")
	}
	for {
		k, esc, v, ok := it.next()
		if !ok {
			break
		}
		var name string
		if esc {
			if name, ok = unescape(k); !ok {
				continue
			}
		} else {
			name = knownKey(k)
		}
		switch name {
		case "users_default", "events_default", "state_default", "ban", "redact", "kick", "invite":
			i := scalarIndex(name)
			n, null, ok := parseLevel(v, r)
			if !ok {
				return reject("power_levels.not_integer", fmt.Sprintf("content.%s is not an integer power level: %s", name, clip(v)))
			}
			if !null {
				vis.scalar(i, n)
			}
		case "events", "notifications":
			sec := secEvents
			if name == "notifications" {
				sec = secNotifications
				if !notifications {
					continue
				}
			}
			if r.strings && isNull(v) {
				vis.section(sec)
				continue
			}
			inner, ok := newObjIter(v)
			if !ok {
				return reject("power_levels.not_integer", fmt.Sprintf("content.%s is not an object", name))
			}
			vis.section(sec)
			for {
				ik, iesc, iv, ok := inner.next()
				if !ok {
					break
				}
				n, null, ok := parseLevel(iv, r)
				if !ok {
					ks, _ := keyString(ik, iesc)
					return reject("power_levels.not_integer", fmt.Sprintf("content.%s[%q] is not an integer power level: %s", name, ks, clip(iv)))
				}
				if !null {
					vis.entry(sec, ik, iesc, n)
				}
			}
			if inner.malformed() {
				return reject("power_levels.not_integer", fmt.Sprintf("content.%s is not a well-formed object", name))
			}
		case "users":
			inner, ok := newObjIter(v)
			if !ok {
				return reject("power_levels.users", "content.users is not an object")
			}
			vis.section(secUsers)
			for {
				ik, iesc, iv, ok := inner.next()
				if !ok {
					break
				}
				valid := false
				if iesc {
					ks, kok := unescape(ik)
					valid = kok && validUserID(ks)
				} else {
					valid = validUserID(ik)
				}
				if !valid {
					ks, _ := keyString(ik, iesc)
					return reject("power_levels.users", fmt.Sprintf("content.users has a key that is not a valid user ID: %q", ks))
				}
				n, null, ok := parseLevel(iv, r)
				if !ok || null {
					ks, _ := keyString(ik, iesc)
					return reject("power_levels.users", fmt.Sprintf("content.users[%q] is not an integer power level: %s", ks, clip(iv)))
				}
				vis.entry(secUsers, ik, iesc, n)
			}
			if inner.malformed() {
				return reject("power_levels.users", "content.users is not a well-formed object")
			}
		}
	}
	if it.malformed() {
		return reject("power_levels.not_integer", "the content is not a well-formed JSON object")
	}
	return nil
}

// knownKey returns the name of a power levels key the rules read, without
// allocating, or "" for any other key.
func knownKey(k []byte) string {
	switch string(k) {
	case "users_default":
		return "users_default"
	case "events_default":
		return "events_default"
	case "state_default":
		return "state_default"
	case "ban":
		return "ban"
	case "redact":
		return "redact"
	case "kick":
		return "kick"
	case "invite":
		return "invite"
	case "events":
		return "events"
	case "notifications":
		return "notifications"
	case "users":
		return "users"
	}
	return ""
}

func scalarIndex(name string) int {
	for i, n := range scalarNames {
		if n == name {
			return i
		}
	}
	return -1
}

// clip shortens a raw value for a rejection reason.
func clip(v []byte) string {
	if len(v) > 40 {
		return string(v[:40]) + "..."
	}
	return string(v)
}

// builder collects a plContent.
type builder struct{ c *plContent }

func (b builder) scalar(i int, n Level) { b.c.scalars[i], b.c.has[i] = n, true }
func (b builder) section(sec int)       { b.c.sections[sec] = levelMap{} }
func (b builder) entry(sec int, key []byte, escaped bool, n Level) {
	k, _ := keyString(key, escaped)
	b.c.sections[sec].set(k, n)
}

func parseContent(content []byte, r levelRules, notifications bool) (*plContent, *Rejection) {
	c := new(plContent)
	if rej := walkPowerLevels(content, r, notifications, builder{c}); rej != nil {
		return nil, rej
	}
	return c, nil
}

// The parsed content of power levels events is kept while the event is
// alive, keyed by a weak pointer to it: the rules read the room's current
// power levels for nearly every event, and state resolution reads them
// again and again, so each event's content is parsed once.
type plKey struct {
	ev    weak.Pointer[event.Event]
	rules levelRules
	notif bool
}

type plEntry struct {
	c   *plContent
	rej *Rejection
}

var plCache = struct {
	sync.RWMutex
	m map[plKey]plEntry
}{m: make(map[plKey]plEntry)}

func cachedContent(ev *event.Event, r levelRules, notifications bool) (*plContent, *Rejection) {
	k := plKey{weak.Make(ev), r, notifications}
	plCache.RLock()
	e, ok := plCache.m[k]
	plCache.RUnlock()
	if ok {
		return e.c, e.rej
	}
	c, rej := parseContent(ev.Content(), r, notifications)
	plCache.Lock()
	_, dup := plCache.m[k]
	if !dup {
		plCache.m[k] = plEntry{c, rej}
	}
	plCache.Unlock()
	if !dup {
		runtime.AddCleanup(ev, func(k plKey) {
			plCache.Lock()
			delete(plCache.m, k)
			plCache.Unlock()
		}, k)
	}
	return c, rej
}

// PowerLevels are a room's power levels as the authorization rules read
// them: the content of its m.room.power_levels event, with the
// specification's defaults for what is absent, and the creators' levels
// from its m.room.create event (content/client-server-api.md,
// "m.room.power_levels"; content/server-server-api.md, "Definitions";
// content/rooms/v12.md for the creators' infinite power).
//
// Levels are compared exactly (see Level): room versions 1-9 can carry
// levels beyond the int64 range as strings, and versions 1-5 as JSON
// numbers. The methods returning int64 saturate such levels at the int64
// bounds; the Exact methods return the Level.
type PowerLevels struct {
	c          *plContent // nil: the room has no power levels event
	create     *event.Event
	inContent  bool // the creator is content.creator (v1-v10)
	privileged bool // creators have Infinite (v12)
}

// NewPowerLevels returns the power levels of a room whose current
// m.room.power_levels and m.room.create events are given (either may be
// nil). The error is a *Rejection when the power levels content does not
// follow the encodings of v.
func NewPowerLevels(v roomversion.Version, powerLevels, create *event.Event) (*PowerLevels, error) {
	p := new(PowerLevels)
	if rej := p.init(v, powerLevels, create); rej != nil {
		return nil, rej
	}
	return p, nil
}

// UserLevelIn returns the exact power level of userID in a room whose
// current m.room.power_levels and m.room.create events are given (either
// may be nil): NewPowerLevels(v, powerLevels, create).UserLevelExact(userID)
// without allocating, for callers that read one level per event, as state
// resolution's power ordering does.
func UserLevelIn(v roomversion.Version, powerLevels, create *event.Event, userID string) (Level, error) {
	var p PowerLevels
	if rej := p.init(v, powerLevels, create); rej != nil {
		return Level{}, rej
	}
	return p.UserLevelExact(userID), nil
}

func (p *PowerLevels) init(v roomversion.Version, powerLevels, create *event.Event) *Rejection {
	*p = PowerLevels{create: create, inContent: v.Auth.CreatorInContent, privileged: v.Auth.PrivilegedCreators}
	if powerLevels != nil {
		c, rej := cachedContent(powerLevels, rulesFor(v.Event.StrictCanonicalJSON, v.Auth.IntegerPowerLevels), v.Auth.NotificationsPowerLevels)
		if rej != nil {
			return rej
		}
		p.c = c
	}
	return nil
}

// Exists reports whether the room has a power levels event.
func (p *PowerLevels) Exists() bool { return p.c != nil }

// IsCreator reports whether userID is one of the room's creators: the
// create event's sender and, in room versions with privileged creators,
// the users of its content.additional_creators (content/rooms/v12.md); in
// versions 1-10 the user of content.creator.
func (p *PowerLevels) IsCreator(userID string) bool {
	if p.create == nil {
		return false
	}
	if p.inContent {
		cv, _ := field(p.create.Content(), "creator")
		return stringIs(cv, userID)
	}
	if p.create.Sender() == userID {
		return true
	}
	if !p.privileged {
		return false
	}
	return inAdditionalCreators(p.create, userID)
}

func inAdditionalCreators(create *event.Event, userID string) bool {
	arr, ok := field(create.Content(), "additional_creators")
	if !ok {
		return false
	}
	found := false
	arrayEach(arr, func(e []byte) bool {
		if stringIs(e, userID) {
			found = true
			return false
		}
		return true
	})
	return found
}

// UserLevel returns the power level of userID: Infinite for a creator in
// room versions with privileged creators; otherwise the users entry, else
// users_default; without a power levels event, 100 for the creator (room
// versions 1-11) and 0 for everyone else. A level beyond the int64 range
// saturates; UserLevelExact returns it exactly.
func (p *PowerLevels) UserLevel(userID string) int64 { return p.UserLevelExact(userID).n }

// UserLevelExact is UserLevel as an exact Level (InfiniteLevel for a
// privileged creator). State resolution orders events by it.
func (p *PowerLevels) UserLevelExact(userID string) Level {
	if p.privileged && p.IsCreator(userID) {
		return InfiniteLevel
	}
	if p.c != nil {
		if n, ok := p.c.sections[secUsers].get(userID); ok {
			return n
		}
		return p.c.scalar(scUsersDefault)
	}
	if !p.privileged && p.IsCreator(userID) {
		return Level{n: 100}
	}
	return Level{}
}

// EventLevel returns the required power level of an event type: its entry
// in events, else state_default for state events (50 if absent) or
// events_default for others (0 if absent). A level beyond the int64 range
// saturates; EventLevelExact returns it exactly.
func (p *PowerLevels) EventLevel(eventType string, state bool) int64 {
	return p.EventLevelExact(eventType, state).n
}

// EventLevelExact is EventLevel as an exact Level.
func (p *PowerLevels) EventLevelExact(eventType string, state bool) Level {
	if p.c != nil {
		if n, ok := p.c.sections[secEvents].get(eventType); ok {
			return n
		}
	}
	if state {
		return p.c.scalar(scStateDefault)
	}
	return p.c.scalar(scEventsDefault)
}

// Ban returns the ban level (default 50).
func (p *PowerLevels) Ban() int64 { return p.c.scalar(scBan).n }

// Kick returns the kick level (default 50).
func (p *PowerLevels) Kick() int64 { return p.c.scalar(scKick).n }

// Redact returns the redact level (default 50).
func (p *PowerLevels) Redact() int64 { return p.c.scalar(scRedact).n }

// Invite returns the invite level (default 0).
func (p *PowerLevels) Invite() int64 { return p.c.scalar(scInvite).n }

// UsersDefault returns users_default (default 0).
func (p *PowerLevels) UsersDefault() int64 { return p.c.scalar(scUsersDefault).n }

// EventsDefault returns events_default (default 0).
func (p *PowerLevels) EventsDefault() int64 { return p.c.scalar(scEventsDefault).n }

// StateDefault returns state_default (default 50).
func (p *PowerLevels) StateDefault() int64 { return p.c.scalar(scStateDefault).n }

// Notification returns the level of a notifications key ("room" defaults
// to 50, any other absent key to 50 as well, the only default the
// specification gives for the map). Before room version 6 notifications
// are not read and this returns the default.
func (p *PowerLevels) Notification(key string) int64 {
	if p.c != nil {
		if n, ok := p.c.sections[secNotifications].get(key); ok {
			return n.n
		}
	}
	return 50
}
