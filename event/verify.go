package event

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mxkit/mxkit/base64"
	"github.com/mxkit/mxkit/internal/jsonraw"
	"github.com/mxkit/mxkit/redact"
	"github.com/mxkit/mxkit/signing"
)

// Checking received events: content/server-server-api.md, "Validating
// hashes and signatures on received events" and "Checks performed on
// receipt of a PDU" (steps 2 and 3; step 1, the format, is Parse).

// Verdict is the outcome of checking an event's signatures and hash.
type Verdict uint8

const (
	// Invalid: a signature that must be there is missing or bad, or no
	// key could be found to check it with. The event is dropped.
	Invalid Verdict = iota
	// Valid: the signatures and the content hash are good.
	Valid
	// Redact: the signatures are good but the content hash is not: the
	// receiver was probably given a redacted copy, and must go on with
	// the event's redacted form (Result.Redacted) instead of what it got.
	Redact
)

func (v Verdict) String() string {
	switch v {
	case Invalid:
		return "invalid"
	case Valid:
		return "valid"
	case Redact:
		return "redact"
	}
	return fmt.Sprintf("Verdict(%d)", uint8(v))
}

// ErrContentHash is the Err of a Result whose verdict is Redact.
var ErrContentHash = errors.New("event: content hash does not match")

// Result is the outcome of checking one event.
type Result struct {
	Verdict Verdict
	// Err says why the verdict is not Valid: for Invalid a
	// *signing.SignatureError (errors.Is finds signing.ErrNoSignature,
	// signing.ErrUnknownKey, signing.ErrBadSignature, …) or the key ring's
	// error; for Redact, ErrContentHash.
	Err error
	// Redacted is the event's redacted form, for the verdict Redact.
	Redacted *Event
}

// Verifier checks the signatures and content hashes of received events,
// with keys from a key ring. The zero value is not usable: set KeyRing.
// A Verifier is safe for concurrent use.
type Verifier struct {
	// KeyRing gives the servers' public keys. It is asked once per call
	// of Verify or VerifyAll, for all the keys the events need.
	KeyRing signing.KeyRing
	// Now is the current time, for the cap of key validity at now + 7
	// days; nil means time.Now.
	Now func() time.Time
	// Workers bounds how many goroutines VerifyAll checks signatures
	// on; 0 means GOMAXPROCS.
	Workers int
}

// RequiredSigners returns the servers whose signatures e must carry
// (content/server-server-api.md, "Validating hashes and signatures on
// received events"):
//
//   - the sender's server, except for an invite made from a third-party
//     invite (an m.room.member invite whose content has
//     third_party_invite), which "the server which actually sends the
//     event may be a different server" than the sender's: the signature
//     that vouches for it is the identity server's, checked by the
//     authorization rules. The reference server skips the sender's
//     server for such invites in the same way;
//   - in room versions whose event IDs name a server (1 and 2,
//     Signing.EventIDServerSigns), the server of the event_id;
//   - in room versions with restricted joins (8 and later), for a join
//     whose content has join_authorised_via_users_server, that user's
//     server (the authorization rules, content/rooms/v8.md, require the
//     event to be signed by it).
//
// The list has no duplicates. An error means a required server cannot be
// known (join_authorised_via_users_server is not a user ID).
func (e *Event) RequiredSigners() ([]string, error) {
	var buf [3]string
	n, err := e.requiredSigners(&buf)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), buf[:n]...), nil
}

// requiredSigners is RequiredSigners into a fixed array: there are at most
// three.
func (e *Event) requiredSigners(out *[3]string) (int, error) {
	n := 0
	add := func(s string) {
		for _, have := range out[:n] {
			if have == s {
				return
			}
		}
		out[n] = s
		n++
	}
	if !e.isThirdPartyInvite() {
		add(e.SenderServer())
	}
	if e.v.Signing.EventIDServerSigns && e.givenID {
		if s := serverOf(e.id); s != "" {
			add(s)
		}
	}
	if e.v.Auth.RestrictedJoins && e.typ == TypeMember && e.membership == "join" {
		if val, ok := e.ContentField("join_authorised_via_users_server"); ok {
			user, isString := stringAt(val, span{0, int32(len(val))})
			s := serverOf(user)
			if !isString || !strings.HasPrefix(user, "@") || s == "" {
				return 0, fmt.Errorf("event: content.join_authorised_via_users_server %s is not a user ID", val)
			}
			add(s)
		}
	}
	return n, nil
}

func (e *Event) isThirdPartyInvite() bool {
	if e.typ != TypeMember || e.membership != "invite" {
		return false
	}
	_, ok := e.ContentField("third_party_invite")
	return ok
}

// sigEntry is one ed25519 signature of a required server.
type sigEntry struct {
	server string
	keyID  signing.KeyID
	sig    string // base64, as written
}

// plan is what checking one event needs: its signatures by required
// servers, or the error that already decides it.
type plan struct {
	servers  [3]string
	nservers int
	// The signatures: the first ones in a fixed array, more beyond. The
	// plan never holds a slice of its own array, so it can stay on the
	// stack.
	entArr [4]sigEntry
	nent   int
	more   []sigEntry
	err    error
}

func (p *plan) add(en sigEntry) {
	if p.nent < len(p.entArr) {
		p.entArr[p.nent] = en
	} else {
		p.more = append(p.more, en)
	}
	p.nent++
}

func (p *plan) entry(i int) *sigEntry {
	if i < len(p.entArr) {
		return &p.entArr[i]
	}
	return &p.more[i-len(p.entArr)]
}

// makePlan fills p for e.
func (e *Event) makePlan(p *plan) {
	n, err := e.requiredSigners(&p.servers)
	if err != nil {
		p.err = err
		return
	}
	p.nservers = n
	for _, server := range p.servers[:n] {
		obj, ok := lookupKey(e.raw, e.signatures, server)
		if !ok {
			p.err = &signing.SignatureError{Entity: server, Err: signing.ErrNoSignature}
			return
		}
		if e.raw[obj.start] != '{' {
			p.err = &signing.SignatureError{Entity: server, Err: signing.ErrMalformed, Detail: "signatures entry is not an object"}
			return
		}
		found := 0
		eachMember(e.raw, obj, func(k keySpan, val span) bool {
			id := e.keyName(k)
			if !strings.HasPrefix(id, signing.AlgorithmEd25519+":") {
				return true // other algorithms are ignored
			}
			if e.raw[val.start] != '"' {
				p.err = &signing.SignatureError{Entity: server, KeyID: signing.KeyID(id), Err: signing.ErrBadBase64, Detail: "signature is not a string"}
				return false
			}
			p.add(sigEntry{server, signing.KeyID(id), e.stringValue(&field{val: val, escaped: bytes.IndexByte(e.raw[val.start:val.end], '\\') >= 0})})
			found++
			return true
		})
		if p.err != nil {
			return
		}
		if found == 0 {
			p.err = &signing.SignatureError{Entity: server, Err: signing.ErrUnsupportedAlgorithm}
			return
		}
	}
}

// addRequests adds the keys p needs to reqs, merging duplicates.
func (e *Event) addRequests(p *plan, reqs []signing.KeyRequest) []signing.KeyRequest {
	minTS := int64(0)
	if e.v.Signing.EnforceKeyValidity {
		minTS = e.ts
	}
next:
	for i := range p.nent {
		en := p.entry(i)
		for j := range reqs {
			if reqs[j].ServerName == en.server && reqs[j].KeyID == en.keyID {
				reqs[j].MinimumValidUntilTS = max(reqs[j].MinimumValidUntilTS, minTS)
				continue next
			}
		}
		reqs = append(reqs, signing.KeyRequest{ServerName: en.server, KeyID: en.keyID, MinimumValidUntilTS: minTS})
	}
	return reqs
}

// Verify checks e's signatures and content hash.
func (vr *Verifier) Verify(ctx context.Context, e *Event) Result {
	var p plan
	e.makePlan(&p)
	if p.err != nil {
		return Result{Verdict: Invalid, Err: p.err}
	}
	var reqArr [4]signing.KeyRequest
	keys, err := vr.fetch(ctx, e.addRequests(&p, reqArr[:0]))
	if err != nil {
		return Result{Verdict: Invalid, Err: err}
	}
	return e.check(&p, keys, vr.now())
}

func (vr *Verifier) now() time.Time {
	if vr.Now != nil {
		return vr.Now()
	}
	return time.Now()
}

func (vr *Verifier) fetch(ctx context.Context, reqs []signing.KeyRequest) (map[signing.ServerKeyID]signing.PublicKey, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	if vr.KeyRing == nil {
		return nil, errors.New("event: Verifier has no KeyRing")
	}
	keys, err := vr.KeyRing.PublicKeys(ctx, reqs)
	if err != nil {
		return nil, fmt.Errorf("event: fetching keys: %w", err)
	}
	return keys, nil
}

// VerifyAll checks many events, such as the up to 50 PDUs of a
// transaction: it asks the key ring once for every key they need, then
// checks the signatures on all cores. Results are in the order of events.
func (vr *Verifier) VerifyAll(ctx context.Context, events []*Event) []Result {
	results := make([]Result, len(events))
	plans := make([]plan, len(events))
	var reqs []signing.KeyRequest
	for i, e := range events {
		e.makePlan(&plans[i])
		reqs = e.addRequests(&plans[i], reqs)
	}
	keys, err := vr.fetch(ctx, reqs)
	if err != nil {
		for i := range results {
			if plans[i].err != nil {
				results[i] = Result{Verdict: Invalid, Err: plans[i].err}
			} else {
				results[i] = Result{Verdict: Invalid, Err: err}
			}
		}
		return results
	}
	now := vr.now()
	workers := vr.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(events))
	if workers <= 1 {
		for i, e := range events {
			results[i] = e.check(&plans[i], keys, now)
		}
		return results
	}
	checkParallel(workers, events, plans, results, keys, now)
	return results
}

// checkParallel checks the events on workers goroutines, each taking the
// next unchecked event until none is left.
func checkParallel(workers int, events []*Event, plans []plan, results []Result, keys map[signing.ServerKeyID]signing.PublicKey, now time.Time) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(events) {
					return
				}
				results[i] = events[i].check(&plans[i], keys, now)
			}
		})
	}
	wg.Wait()
}

// check runs the signature checks of a plan, then the content hash.
func (e *Event) check(p *plan, keys map[signing.ServerKeyID]signing.PublicKey, now time.Time) Result {
	if p.err != nil {
		return Result{Verdict: Invalid, Err: p.err}
	}
	b := getBuf()
	defer putBuf(b)
	signed, err := e.appendSigned((*b)[:0])
	*b = signed[:0]
	if err != nil {
		return Result{Verdict: Invalid, Err: err}
	}
	// The content hash's input, made now so that it can be hashed with
	// the reference hash's: the two share a prefix (see sumShared).
	c := getBuf()
	defer putBuf(c)
	form, formErr := e.appendWithout((*c)[:0], true)
	*c = form[:0]
	var content [sha256.Size]byte
	computed := false
	// The signed bytes are the reference hash's input too.
	e.refOnce.Do(func() {
		if formErr == nil {
			e.refHash, content = sumShared(signed, form)
		} else {
			e.refHash = sha256.Sum256(signed)
		}
		computed = true
		if !e.givenID {
			e.id = hashID('$', e.v, e.refHash)
		}
	})
	if !computed && formErr == nil {
		content = sha256.Sum256(form)
	}
	for _, server := range p.servers[:p.nservers] {
		used := 0
		for i := range p.nent {
			en := p.entry(i)
			if en.server != server {
				continue
			}
			k, ok := keys[signing.ServerKeyID{ServerName: en.server, KeyID: en.keyID}]
			if !ok {
				continue // unknown keys are skipped
			}
			if e.v.Signing.EnforceKeyValidity && !signing.ValidAt(k, e.ts, now) {
				continue // so are keys not valid at the event's time
			}
			var sig [ed25519.SignatureSize + 2]byte
			var raw []byte
			var err error
			if n, ok := decodeFast(sig[:], []byte(en.sig)); ok {
				raw = sig[:n]
			} else {
				raw, err = base64.Std.AppendDecode(sig[:0], []byte(en.sig))
			}
			if err != nil {
				// Not strict unpadded base64. The reference server's
				// decoder is more lenient (both alphabets, junk skipped);
				// the signing package decodes as it does, so let it judge.
				if err := e.verifyLenient(signed, *en, k.Key); err != nil {
					return Result{Verdict: Invalid, Err: err}
				}
			} else if !signing.Verify(k.Key, signed, raw) {
				return Result{Verdict: Invalid, Err: &signing.SignatureError{Entity: server, KeyID: en.keyID, Err: signing.ErrBadSignature}}
			}
			used++
		}
		if used == 0 {
			return Result{Verdict: Invalid, Err: &signing.SignatureError{Entity: server, Err: signing.ErrUnknownKey, Detail: "no known key valid at the event's origin_server_ts"}}
		}
	}
	// As ContentHashValid, whose ContentHash is zero in the case, which
	// cannot happen, of an error.
	var buf [sha256.Size + 1]byte
	if want, ok := e.claimedContentHash(&buf); ok && bytes.Equal(content[:], want) {
		return Result{Verdict: Valid}
	}
	red, err := e.Redacted()
	if err != nil {
		return Result{Verdict: Invalid, Err: err}
	}
	return Result{Verdict: Redact, Err: ErrContentHash, Redacted: red}
}

// Redacted returns the event's redacted form (content/client-server-api/_index.md,
// "Redactions", by the rules of its room version) as an event with the
// same ID.
func (e *Event) Redacted() (*Event, error) {
	var raw []byte
	var err error
	if e.canonical {
		raw, err = redact.AppendCanonical(nil, e.v, e.raw)
	} else {
		raw, err = redact.AppendValidated(nil, e.v, e.raw)
	}
	if err != nil {
		return nil, fmt.Errorf("event: %w", err)
	}
	if e.givenID {
		return ParseWithID(e.v, raw, e.id)
	}
	return Parse(e.v, raw)
}

// verifyLenient checks one signature whose base64 is not strict, with
// signing.VerifyJSON over the signed form carrying just that signature.
func (e *Event) verifyLenient(signed []byte, en sigEntry, pub ed25519.PublicKey) error {
	sigs := []byte{'{'}
	sigs = jsonraw.AppendString(sigs, en.server)
	sigs = append(sigs, ':', '{')
	sigs = jsonraw.AppendString(sigs, string(en.keyID))
	sigs = append(sigs, ':')
	sigs = jsonraw.AppendString(sigs, en.sig)
	sigs = append(sigs, '}', '}')
	obj := setMember(nil, signed, "signatures", sigs)
	return signing.VerifyJSON(obj, en.server, map[signing.KeyID]ed25519.PublicKey{en.keyID: pub}, redact.Mode(e.v))
}
