package eventauth

import (
	"github.com/mxkit/mxkit/event"
	"github.com/mxkit/mxkit/roomversion"
)

// The outcomes of a power levels change, in the order the rules test them.
const (
	pcScalarCurrent = iota
	pcScalarNew
	pcEventsCurrent
	pcEventsNew
	pcUsersCurrent
	pcUsersNew
	numPC
)

var pcRules = [numPC]string{
	"power_levels.scalar_current",
	"power_levels.scalar_new",
	"power_levels.events_current",
	"power_levels.events_new",
	"power_levels.users_current",
	"power_levels.users_new",
}

// plChange walks the new power levels content and compares it with the
// current one without building maps: each entry of the new content is
// looked up in the current content's index, and a bitset marks the
// current entries that are still present, so that removals are found
// afterwards. Its cost is linear in the size of both.
type plChange struct {
	old      *plContent
	sender   string
	level    Level
	creators creatorSet

	newScalars [numScalars]Level
	newHas     [numScalars]bool
	seen       [numSections][]uint64
	small      [numSections][4]uint64
	sectionOn  [numSections]bool

	found   [numPC]*Rejection
	creator *Rejection
}

// creatorSet answers "is this a creator?" for room versions whose creators
// cannot be listed in users.
type creatorSet struct {
	on         bool
	sender     string
	additional []string
}

func (c *creatorSet) has(key []byte, escaped bool) (string, bool) {
	if !c.on {
		return "", false
	}
	k, ok := keyString(key, escaped)
	if !ok {
		return "", false
	}
	if k == c.sender {
		return k, true
	}
	for _, a := range c.additional {
		if a == k {
			return k, true
		}
	}
	return "", false
}

func (p *plChange) note(i int, r *Rejection) {
	if p.found[i] == nil {
		p.found[i] = r
	}
}

func (p *plChange) scalar(i int, n Level) { p.newScalars[i], p.newHas[i] = n, true }

func (p *plChange) section(sec int) {
	p.sectionOn[sec] = true
	if p.old == nil {
		return
	}
	n := (len(p.old.sections[sec].keys) + 63) / 64
	if n <= len(p.small[sec]) {
		p.seen[sec] = p.small[sec][:n]
		clear(p.seen[sec])
	} else {
		p.seen[sec] = make([]uint64, n)
	}
}

func (p *plChange) entry(sec int, key []byte, escaped bool, n Level) {
	if sec == secUsers && p.creator == nil {
		if c, is := p.creators.has(key, escaped); is {
			p.creator = rejectf("power_levels.creator_in_users", "content.users lists %s, a creator of the room", c)
		}
	}
	if p.old == nil {
		return
	}
	m := &p.old.sections[sec]
	var (
		i     int32
		had   bool
		keyS  string
		known bool
	)
	if escaped {
		keyS, known = keyString(key, true)
		if !known {
			return
		}
		i, had = m.idx[keyS]
	} else {
		i, had = m.idx[string(key)]
	}
	cur, nw := pcEventsCurrent, pcEventsNew
	if sec == secUsers {
		cur, nw = pcUsersCurrent, pcUsersNew
	}
	if had {
		p.seen[sec][i/64] |= 1 << (i % 64)
		old := m.vals[i]
		if old.Cmp(n) == 0 {
			return
		}
		if sec == secUsers {
			if old.Cmp(p.level) >= 0 && m.keys[i] != p.sender {
				p.note(cur, rejectf(pcRules[cur], "the sender's power level %s is not above %s's current level %s, which the change alters", p.level, m.keys[i], old))
			}
		} else if old.Cmp(p.level) > 0 {
			p.note(cur, rejectf(pcRules[cur], "%s[%q] is currently %s, above the sender's power level %s", sectionNames[sec], m.keys[i], old, p.level))
		}
	}
	if n.Cmp(p.level) > 0 {
		if keyS == "" {
			keyS, _ = keyString(key, escaped)
		}
		p.note(nw, rejectf(pcRules[nw], "the new %s[%q] of %s is above the sender's power level %s", sectionNames[sec], keyS, n, p.level))
	}
}

// removed checks the current entries of a map that the new content drops.
func (p *plChange) removed(sec int) {
	m := &p.old.sections[sec]
	seen := p.seen[sec]
	if !p.sectionOn[sec] {
		seen = nil
	}
	for i, k := range m.keys {
		if seen != nil && seen[i/64]&(1<<(i%64)) != 0 {
			continue
		}
		old := m.vals[i]
		if sec == secUsers {
			if old.Cmp(p.level) >= 0 && k != p.sender {
				p.note(pcUsersCurrent, rejectf(pcRules[pcUsersCurrent], "the sender's power level %s is not above %s's current level %s, which the change removes", p.level, k, old))
			}
		} else if old.Cmp(p.level) > 0 {
			p.note(pcEventsCurrent, rejectf(pcRules[pcEventsCurrent], "%s[%q] is currently %s, above the sender's power level %s, and the change removes it", sectionNames[sec], k, old, p.level))
		}
	}
}

// checkPowerLevels applies the rules for m.room.power_levels events.
func checkPowerLevels(v roomversion.Version, ev *event.Event, create *event.Event, pl *PowerLevels, senderLevel Level) *Rejection {
	return checkPowerLevelsContent(v, ev.Content(), ev.Sender(), create, pl.c, senderLevel)
}

// checkPowerLevelsContent is checkPowerLevels on the new content; old is
// the current content (nil: none).
func checkPowerLevelsContent(v roomversion.Version, content []byte, sender string, create *event.Event, old *plContent, senderLevel Level) *Rejection {
	p := &plChange{old: old, sender: sender, level: senderLevel}
	if v.Auth.PrivilegedCreators {
		p.creators = creatorSet{on: true, sender: create.Sender()}
		if ac, ok := field(create.Content(), "additional_creators"); ok {
			arrayEach(ac, func(e []byte) bool {
				if s, ok := stringValue(e); ok {
					p.creators.additional = append(p.creators.additional, s)
				}
				return true
			})
		}
	}
	r := rulesFor(v.Event.StrictCanonicalJSON, v.Auth.IntegerPowerLevels)
	if rej := walkPowerLevels(content, r, v.Auth.NotificationsPowerLevels, p); rej != nil {
		return rej
	}
	if p.creator != nil {
		return p.creator
	}
	if old == nil {
		// The first power levels event of the room.
		return nil
	}
	for i := range numScalars {
		oldHas, newHas := old.has[i], p.newHas[i]
		oldV, newV := old.scalars[i], p.newScalars[i]
		if oldHas == newHas && oldV.Cmp(newV) == 0 {
			continue
		}
		if oldHas && oldV.Cmp(senderLevel) > 0 {
			p.note(pcScalarCurrent, rejectf(pcRules[pcScalarCurrent], "%s is currently %s, above the sender's power level %s", scalarNames[i], oldV, senderLevel))
		}
		if newHas && newV.Cmp(senderLevel) > 0 {
			p.note(pcScalarNew, rejectf(pcRules[pcScalarNew], "the new %s of %s is above the sender's power level %s", scalarNames[i], newV, senderLevel))
		}
	}
	p.removed(secEvents)
	if v.Auth.NotificationsPowerLevels {
		p.removed(secNotifications)
	}
	p.removed(secUsers)
	for _, r := range p.found {
		if r != nil {
			return r
		}
	}
	return nil
}
