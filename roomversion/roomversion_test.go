package roomversion

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// specTable is written from the specification's room version pages
// (content/rooms/v1.md … v12.md), not from the code above: for each rule,
// the versions in which it holds. Every bool field of Version must appear,
// so a new field cannot be added without saying where it holds.
var specTable = map[string][]string{
	"Stable": {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"},
	// v11.md "Event format": redacts moves into content.
	"Event.RedactsInContent": {"11", "12"},
	// v6.md "Canonical JSON": strict canonical JSON from v6.
	"Event.StrictCanonicalJSON": {"6", "7", "8", "9", "10", "11", "12"},
	// v1 auth rule 1.4 "If content has no creator property, reject", gone in v11.
	"Auth.CreatorInContent": {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"},
	// Auth rule 1.2, room_id domain vs sender domain; v12 create has no room_id.
	"Auth.CreateRoomIDDomain": {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"},
	// v12.md: the create event is never in auth_events.
	"Auth.CreateInAuthEvents": {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"},
	// v12.md: creators have infinite power level.
	"Auth.PrivilegedCreators": {"12"},
	// v6.md: "the m.room.aliases special case is removed".
	"Auth.SpecialCaseAliases": {"1", "2", "3", "4", "5"},
	// v1 auth rule 11 (m.room.redaction); v3.md removes it.
	"Auth.RedactionAuthRule": {"1", "2"},
	// v6.md: notifications power levels are checked.
	"Auth.NotificationsPowerLevels": {"6", "7", "8", "9", "10", "11", "12"},
	// v7.md: knocking.
	"Auth.Knocking": {"7", "8", "9", "10", "11", "12"},
	// v8.md: restricted join rule.
	"Auth.RestrictedJoins": {"8", "9", "10", "11", "12"},
	// v10.md: knock_restricted join rule.
	"Auth.KnockRestricted": {"10", "11", "12"},
	// v10.md: power levels must be integers.
	"Auth.IntegerPowerLevels": {"10", "11", "12"},
	// v11.md redaction: origin, membership, prev_state no longer kept.
	"Redaction.KeepOriginMembershipPrevState": {"1", "2", "3", "4", "5", "6", "7", "8", "9", "10"},
	// v6.md redaction: m.room.aliases no longer keeps aliases.
	"Redaction.KeepAliases": {"1", "2", "3", "4", "5"},
	// v8.md redaction: join_rules keep allow.
	"Redaction.KeepJoinRulesAllow": {"8", "9", "10", "11", "12"},
	// v9.md redaction: member keeps join_authorised_via_users_server.
	"Redaction.KeepJoinAuthorisedVia": {"9", "10", "11", "12"},
	// v11.md redaction changes.
	"Redaction.KeepAllCreateContent":       {"11", "12"},
	"Redaction.KeepPowerLevelsInvite":      {"11", "12"},
	"Redaction.KeepRedactionRedacts":       {"11", "12"},
	"Redaction.KeepThirdPartyInviteSigned": {"11", "12"},
	// server-server-api.md "Validating hashes and signatures": in v1 and v2
	// the event_id's server signs too.
	"Signing.EventIDServerSigns": {"1", "2"},
	// v5.md: signing key validity enforced.
	"Signing.EnforceKeyValidity": {"5", "6", "7", "8", "9", "10", "11", "12"},
}

// specEnums: the non-bool rules, version by version.
var specEnums = map[string]map[string]any{
	"Event.Format": {
		"1": EventFormatV1, "2": EventFormatV1, "3": EventFormatV3, "4": EventFormatV3, "5": EventFormatV3, "6": EventFormatV3,
		"7": EventFormatV3, "8": EventFormatV3, "9": EventFormatV3, "10": EventFormatV3, "11": EventFormatV3, "12": EventFormatV3,
	},
	"Event.EventID": {
		"1": EventIDGiven, "2": EventIDGiven, "3": EventIDHashStd, "4": EventIDHashURL, "5": EventIDHashURL, "6": EventIDHashURL,
		"7": EventIDHashURL, "8": EventIDHashURL, "9": EventIDHashURL, "10": EventIDHashURL, "11": EventIDHashURL, "12": EventIDHashURL,
	},
	"Event.RoomID": {
		"1": RoomIDServer, "2": RoomIDServer, "3": RoomIDServer, "4": RoomIDServer, "5": RoomIDServer, "6": RoomIDServer,
		"7": RoomIDServer, "8": RoomIDServer, "9": RoomIDServer, "10": RoomIDServer, "11": RoomIDServer, "12": RoomIDCreateHash,
	},
	"StateRes": {
		"1": StateResV1, "2": StateResV2, "3": StateResV2, "4": StateResV2, "5": StateResV2, "6": StateResV2,
		"7": StateResV2, "8": StateResV2, "9": StateResV2, "10": StateResV2, "11": StateResV2, "12": StateResV21,
	},
}

// fields walks the struct and returns every leaf field by dotted path.
func fields(v reflect.Value, prefix string, out map[string]reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		path := prefix + f.Name
		if f.Type.Kind() == reflect.Struct {
			fields(v.Field(i), path+".", out)
			continue
		}
		out[path] = v.Field(i)
	}
}

func TestEveryFieldOfEveryVersion(t *testing.T) {
	known := Known()
	if len(known) != 12 {
		t.Fatalf("Known() has %d versions, want 12", len(known))
	}
	seen := map[string]bool{}
	for i, v := range known {
		wantID := []string{"1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"}[i]
		if v.ID != wantID {
			t.Fatalf("Known()[%d].ID = %q, want %q", i, v.ID, wantID)
		}
		got := map[string]reflect.Value{}
		fields(reflect.ValueOf(v), "", got)
		for path, fv := range got {
			if path == "ID" {
				continue
			}
			seen[path] = true
			switch fv.Kind() {
			case reflect.Bool:
				versions, ok := specTable[path]
				if !ok {
					t.Errorf("field %s is not in the spec table", path)
					continue
				}
				if want := slices.Contains(versions, v.ID); fv.Bool() != want {
					t.Errorf("v%s: %s = %v, want %v", v.ID, path, fv.Bool(), want)
				}
			default:
				byVersion, ok := specEnums[path]
				if !ok {
					t.Errorf("field %s is not in the spec enums", path)
					continue
				}
				if want := byVersion[v.ID]; !reflect.DeepEqual(fv.Interface(), want) {
					t.Errorf("v%s: %s = %v, want %v", v.ID, path, fv.Interface(), want)
				}
			}
		}
		if err := v.Validate(); err != nil {
			t.Errorf("v%s does not validate: %v", v.ID, err)
		}
	}
	for path := range specTable {
		if !seen[path] {
			t.Errorf("spec table names %s, which Version does not have", path)
		}
	}
	for path := range specEnums {
		if !seen[path] {
			t.Errorf("spec enums name %s, which Version does not have", path)
		}
	}
}

func TestExportedVarsMatchLookup(t *testing.T) {
	vars := []Version{V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11, V12}
	for _, want := range vars {
		got, ok := Lookup(want.ID)
		if !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("Lookup(%q) = %+v, %v; want %+v", want.ID, got, ok, want)
		}
	}
	if Default().ID != "12" {
		t.Errorf("Default() = %s, want 12", Default().ID)
	}
}

func TestMaxDepth(t *testing.T) {
	if V5.MaxDepth() != 1<<63-1 || V6.MaxDepth() != 1<<53-1 {
		t.Fatalf("MaxDepth v5=%d v6=%d", V5.MaxDepth(), V6.MaxDepth())
	}
}

func TestUnknownVersions(t *testing.T) {
	for _, id := range []string{"", "0", "13", "1.0", " 1", "01", "org.matrix.msc2176", "V1"} {
		if _, ok := Lookup(id); ok {
			t.Errorf("Lookup(%q) found a version", id)
		}
		if _, err := Get(id); !errors.Is(err, ErrUnknown) {
			t.Errorf("Get(%q) error = %v, want ErrUnknown", id, err)
		}
	}
}

// An embedder describes a custom version by copying one; the standard set
// is not affected, and changing a returned value changes nothing shared.
func TestCustomVersionTouchesNoGlobalState(t *testing.T) {
	custom := V12
	custom.ID = "org.example.custom"
	custom.Stable = false
	set := NewSet(append(Known(), custom)...)
	if got, ok := set.Lookup("org.example.custom"); !ok || got.Stable {
		t.Fatalf("custom lookup = %+v, %v", got, ok)
	}
	if _, ok := Lookup("org.example.custom"); ok {
		t.Fatal("a custom set leaked into the standard set")
	}
	if err := custom.Validate(); err != nil {
		t.Fatalf("custom version does not validate: %v", err)
	}
	k := Known()
	k[0].Auth.Knocking = true
	if v1, _ := Lookup("1"); v1.Auth.Knocking {
		t.Fatal("changing a Known() value changed the standard set")
	}
	s := Standard()
	if len(s.Known()) != 12 {
		t.Fatalf("Standard() has %d versions", len(s.Known()))
	}
	var zero *Set
	if _, ok := zero.Lookup("1"); ok || zero.Known() != nil {
		t.Fatal("nil Set recognises versions")
	}
}

func TestValidateRejectsInconsistentRules(t *testing.T) {
	cases := map[string]func(v *Version){
		"bad id":                      func(v *Version) { v.ID = "Not Valid" },
		"long id":                     func(v *Version) { v.ID = strings.Repeat("a", 33) },
		"v1 format with hash ids":     func(v *Version) { v.Event.Format = EventFormatV1 },
		"v3 format with given ids":    func(v *Version) { v.Event.EventID = EventIDGiven },
		"hash room id, std event ids": func(v *Version) { v.Event.EventID = EventIDHashStd },
		"hash room id, create listed": func(v *Version) { v.Auth.CreateInAuthEvents = true },
		"creators without hash rooms": func(v *Version) { v.Event.RoomID = RoomIDServer },
		"knock_restricted alone":      func(v *Version) { v.Auth.Knocking = false },
		"no state res":                func(v *Version) { v.StateRes = 0 },
		"no format":                   func(v *Version) { v.Event.Format = 0 },
		"v1 redaction rule, v11 fmt":  func(v *Version) { v.Auth.RedactionAuthRule = true },
	}
	for name, change := range cases {
		v := V12
		v.ID = "org.example.x"
		change(&v)
		if err := v.Validate(); !errors.Is(err, ErrInconsistent) {
			t.Errorf("%s: Validate() = %v, want ErrInconsistent", name, err)
		}
	}
}

func TestStateResString(t *testing.T) {
	for a, want := range map[StateResAlgorithm]string{StateResV1: "v1", StateResV2: "v2", StateResV21: "v2.1", 9: "StateResAlgorithm(9)"} {
		if a.String() != want {
			t.Errorf("%d.String() = %q", a, a.String())
		}
	}
}
