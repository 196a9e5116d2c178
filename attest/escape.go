package attest

import (
	"encoding/json"
	"reflect"

	"github.com/cryptoshred/cryptoshred/internal/safetext"
)

// escapedStatement returns a copy of st in which every string is safe to
// print (see safetext.Escape). A certificate shows text the signer, or
// for an unverified statement anyone, wrote; a control character in it
// must not be able to forge or hide a line such as "NOT VERIFIED".
func escapedStatement(st *Statement) *Statement {
	b, err := json.Marshal(st)
	var c Statement
	if err != nil || json.Unmarshal(b, &c) != nil {
		return &Statement{}
	}
	escapeStrings(reflect.ValueOf(&c).Elem())
	return &c
}

func escapeStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(safetext.Escape(v.String()))
	case reflect.Pointer:
		if !v.IsNil() {
			escapeStrings(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				escapeStrings(v.Field(i))
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			escapeStrings(v.Index(i))
		}
	case reflect.Map:
		escapeMap(v)
	}
}

func escapeMap(v reflect.Value) {
	if v.IsNil() {
		return
	}
	out := reflect.MakeMapWithSize(v.Type(), v.Len())
	it := v.MapRange()
	for it.Next() {
		k, val := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		k.Set(it.Key())
		val.Set(it.Value())
		escapeStrings(k)
		escapeStrings(val)
		out.SetMapIndex(k, val)
	}
	v.Set(out)
}
