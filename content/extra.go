package content

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// fieldNames caches, per struct type, the JSON names of its fields.
var fieldNames sync.Map // reflect.Type -> []string

// namesOf returns the JSON object keys the fields of struct type t are
// written as.
func namesOf(t reflect.Type) []string {
	if v, ok := fieldNames.Load(t); ok {
		return v.([]string)
	}
	var names []string
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	fieldNames.Store(t, names)
	return names
}

// known reports whether key is read into one of the fields: the
// encoding/json decoder matches a key to a field name exactly or, failing
// that, without regard to case, so such a key is not kept in Extra too.
func known(names []string, key string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, key) })
}

// decodeKeeping decodes the JSON object b into v, a pointer to a struct,
// and the members whose keys no field reads into *extra (nil when none).
func decodeKeeping[T any](b []byte, v *T, extra *map[string]json.RawMessage) error {
	if err := json.Unmarshal(b, v); err != nil {
		return err
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return err
	}
	names := namesOf(reflect.TypeFor[T]())
	*extra = nil
	for k, raw := range all {
		if known(names, k) {
			continue
		}
		if *extra == nil {
			*extra = map[string]json.RawMessage{}
		}
		(*extra)[k] = raw
	}
	return nil
}

// encodeKeeping encodes v, a pointer to a struct, and adds the members of
// extra, in key order. A key of extra that a field is written as, or a
// value that is not JSON, is an error rather than a duplicate key or a
// broken document.
func encodeKeeping[T any](v *T, extra map[string]json.RawMessage) ([]byte, error) {
	out, err := json.Marshal(v)
	if err != nil || len(extra) == 0 {
		return out, err
	}
	names := namesOf(reflect.TypeFor[T]())
	var b bytes.Buffer
	b.Write(out[:len(out)-1])
	for _, k := range slices.Sorted(maps.Keys(extra)) {
		if known(names, k) {
			return nil, fmt.Errorf("content: Extra key %q is a field of %s", k, reflect.TypeFor[T]().Name())
		}
		val := bytes.TrimSpace(extra[k])
		if !json.Valid(val) {
			return nil, fmt.Errorf("content: Extra[%q] is not JSON", k)
		}
		if b.Len() > 1 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(k)
		b.Write(key)
		b.WriteByte(':')
		b.Write(val)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}
