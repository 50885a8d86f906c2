// Package dbutil holds the small SQL helpers the example homeserver's
// packages share.
package dbutil

import "database/sql"

// Strings reads a one-column result of strings, as returned by a query
// (so that a call reads Strings(db.QueryContext(...))); never nil, so
// that lists encode as [].
func Strings(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
