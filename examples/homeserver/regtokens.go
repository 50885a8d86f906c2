package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/mxkit/mxkit/clientapi"
)

// Token-authenticated registration (content/client-server-api/_index.md
// "Token-authenticated registration"). The tokens are those of the
// --registration-tokens file, one a line: TOKEN, or TOKEN USES_ALLOWED
// (a positive count of registrations); blank lines and lines starting
// with # are skipped. The completed uses are counted in the database, so
// they survive restarts and edits of the file.

// regToken is one line of the tokens file; usesAllowed 0 is unlimited.
type regToken struct {
	token       string
	usesAllowed int64
}

// maxRegTokens bounds the tokens of one file.
const maxRegTokens = 100000

// parseRegistrationTokens reads a tokens file.
func parseRegistrationTokens(data []byte) ([]regToken, error) {
	var out []regToken
	seen := map[string]bool{}
	for n, line := range bytes.Split(data, []byte("\n")) {
		s := strings.TrimSpace(string(line))
		if s == "" || s[0] == '#' {
			continue
		}
		fields := strings.Fields(s)
		if len(fields) > 2 {
			return nil, fmt.Errorf("line %d: want TOKEN or TOKEN USES_ALLOWED", n+1)
		}
		t := regToken{token: fields[0]}
		if err := clientapi.ValidRegistrationToken(t.token); err != nil {
			return nil, fmt.Errorf("line %d: %v", n+1, err)
		}
		if len(fields) == 2 {
			uses, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil || uses <= 0 {
				return nil, fmt.Errorf("line %d: uses allowed %q is not a positive integer", n+1, fields[1])
			}
			t.usesAllowed = uses
		}
		if seen[t.token] {
			return nil, fmt.Errorf("line %d: token %s given twice", n+1, t.token)
		}
		seen[t.token] = true
		if len(out) == maxRegTokens {
			return nil, fmt.Errorf("more than %d tokens", maxRegTokens)
		}
		out = append(out, t)
	}
	return out, nil
}

// regTokens implements clientapi.RegistrationTokens on the database.
type regTokens struct {
	db     *Store
	tokens map[string]int64 // the file's tokens: uses allowed, 0 unlimited
}

var _ clientapi.RegistrationTokens = (*regTokens)(nil)

// loadRegistrationTokens reads the file of path; the caller sets db.
func loadRegistrationTokens(path string) (*regTokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--registration-tokens: %w", err)
	}
	list, err := parseRegistrationTokens(data)
	if err != nil {
		return nil, fmt.Errorf("--registration-tokens %s: %w", path, err)
	}
	rt := &regTokens{tokens: map[string]int64{}}
	for _, t := range list {
		rt.tokens[t.token] = t.usesAllowed
	}
	return rt, nil
}

// ValidRegistrationToken implements clientapi.RegistrationTokens.
func (r *regTokens) ValidRegistrationToken(ctx context.Context, token string) (bool, error) {
	allowed, ok := r.tokens[token]
	if !ok {
		return false, nil
	}
	if allowed == 0 {
		return true, nil
	}
	var completed int64
	err := r.db.queryRow(ctx, `SELECT completed FROM registration_tokens WHERE token = ?`, token).Scan(&completed)
	if err == sql.ErrNoRows {
		return true, nil
	}
	return err == nil && completed < allowed, err
}

// UseRegistrationToken implements clientapi.RegistrationTokens: the
// check and the count in one statement, so that concurrent
// registrations cannot both take a token's last use.
func (r *regTokens) UseRegistrationToken(ctx context.Context, token string) error {
	allowed, ok := r.tokens[token]
	if !ok {
		return clientapi.NewError(http.StatusUnauthorized, "M_UNAUTHORIZED", "invalid registration token")
	}
	var limit any
	if allowed > 0 {
		limit = allowed
	}
	res, err := r.db.w.ExecContext(ctx, `INSERT INTO registration_tokens (token, uses_allowed, completed) VALUES (?, ?, 1)
		ON CONFLICT (token) DO UPDATE SET completed = completed + 1, uses_allowed = excluded.uses_allowed
		WHERE excluded.uses_allowed IS NULL OR registration_tokens.completed < excluded.uses_allowed`, token, limit)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return clientapi.NewError(http.StatusUnauthorized, "M_UNAUTHORIZED", "the registration token has no uses left")
	}
	return nil
}
