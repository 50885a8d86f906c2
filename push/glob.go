package push

import (
	"regexp"
	"strings"
	"sync"
)

// globCache keeps compiled globs: rules are few and evaluated for every
// event, so each pattern is compiled once. It is cleared when it grows
// past globCacheMax (patterns come from users).
var globCache struct {
	sync.Mutex
	m map[globKey]*regexp.Regexp
}

const globCacheMax = 4096

type globKey struct {
	pattern string
	words   bool
	literal bool
}

// compileGlob turns a glob into a regular expression (appendices,
// "Glob-style matching": * is zero or more characters, ? exactly one),
// case-insensitive. words makes it match a substring that starts and ends
// at a word boundary ("Push Rules", content rules; event_match on
// content.body): preceded by the start of the value, a character outside
// [A-Za-z0-9_] or a change between word and non-word characters, and
// followed likewise (the reference server's reading: a pattern that starts
// with "@" matches after a letter).
// literal makes every character of pattern stand for itself (a display
// name is matched as written).
func compileGlob(pattern string, words, literal bool) *regexp.Regexp {
	k := globKey{pattern, words, literal}
	globCache.Lock()
	re, ok := globCache.m[k]
	globCache.Unlock()
	if ok {
		return re
	}
	var b strings.Builder
	b.WriteString(`(?is)`)
	if words {
		b.WriteString(`(?:^|\b|\W)(?:`)
	} else {
		b.WriteString(`^(?:`)
	}
	for _, r := range pattern {
		switch {
		case r == '*' && !literal:
			b.WriteString(`.*`)
		case r == '?' && !literal:
			b.WriteString(`.`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if words {
		b.WriteString(`)(?:\b|\W|$)`)
	} else {
		b.WriteString(`)$`)
	}
	// Every character is quoted, yet a huge pattern can pass the
	// package's size limit: such a glob matches nothing (re is nil).
	re, _ = regexp.Compile(b.String())
	globCache.Lock()
	if globCache.m == nil || len(globCache.m) >= globCacheMax {
		globCache.m = map[globKey]*regexp.Regexp{}
	}
	globCache.m[k] = re
	globCache.Unlock()
	return re
}

// globMatch reports whether value matches the glob (whole value, or a
// word-bounded substring with words).
func globMatch(pattern, value string, words bool) bool {
	re := compileGlob(pattern, words, false)
	return re != nil && re.MatchString(value)
}

// containsWord reports whether value holds text, as written (case aside),
// at word boundaries.
func containsWord(text, value string) bool {
	re := compileGlob(text, true, true)
	return re != nil && re.MatchString(value)
}
