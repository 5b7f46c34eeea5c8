package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"text/tabwriter"
	"text/template"
	"unicode"

	"github.com/containerd/errdefs"
	"github.com/docker/cli/templates"
)

// A --format is read as docker's CLI reads it: "table" (the command's
// columns), "table TEMPLATE" (a table of the template's columns, headed by
// the fields' names), "json" (one JSON object a line) or a Go template, with
// docker's helpers (json, join, split, lower, upper, title, pad, truncate)
// and the builtin println.

// listing says how a list command prints its rows.
type listing struct {
	format       string       // the --format value; "": table
	defaultTable string       // the command's table, "table {{.ID}}\t…"
	header       headerFields // column titles by field, for table formats
	// jsonArray: --format json prints one JSON array (docker compose ls
	// and images) instead of one object a line.
	jsonArray bool
}

// headerFields names the column of each field: docker's header context. A
// table row's template is run on it to make the header line.
type headerFields map[string]string

// Label is the title of a {{.Label "key"}} column.
func (h headerFields) Label(name string) string { return strings.ToUpper(name) }

// writeList prints rows as l says. The rows' exported methods and fields are
// the template's fields; `{{json .}}` of a row is what its MarshalJSON says.
func writeList[R any](w io.Writer, l listing, rows []R) error {
	format := l.format
	switch format {
	case "", "table":
		format = l.defaultTable
	case "json":
		if l.jsonArray {
			return writeJSONLine(w, nonNil(rows))
		}
	}
	isTable := strings.HasPrefix(format, "table")
	tmpl, err := parseFormat(format)
	if err != nil {
		return err
	}
	var body bytes.Buffer
	for _, r := range rows {
		if err := tmpl.Execute(&body, r); err != nil {
			return fmt.Errorf("--format: %w", err)
		}
		body.WriteByte('\n')
	}
	if !isTable {
		_, err := body.WriteTo(w)
		return err
	}
	// Docker's table: columns at least 10 wide, 3 spaces apart.
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	if err := tmpl.Funcs(templates.HeaderFunctions).Execute(tw, l.header); err != nil {
		return fmt.Errorf("--format: %w", err)
	}
	if _, err := tw.Write([]byte{'\n'}); err != nil {
		return err
	}
	if _, err := body.WriteTo(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// parseFormat parses a --format as docker does: "json" is {{json .}}, a
// leading "table" goes, and the escapes \t and \n are a tab and a newline.
func parseFormat(format string) (*template.Template, error) {
	if format == "json" {
		format = "{{json .}}"
	}
	format = strings.TrimPrefix(format, "table")
	format = strings.Trim(format, " ")
	format = strings.NewReplacer(`\t`, "\t", `\n`, "\n").Replace(format)
	tmpl, err := templates.Parse(format)
	if err != nil {
		return nil, fmt.Errorf("--format: template parsing error: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	return tmpl, nil
}

func nonNil[R any](rows []R) []R {
	if rows == nil {
		return []R{}
	}
	return rows
}

func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}

// marshalMethods is a row's JSON as docker's formatter makes it: an object
// of the row's exported methods that take no argument, by name.
func marshalMethods(row any) ([]byte, error) {
	v := reflect.ValueOf(row)
	m := map[string]any{}
	for i := range v.NumMethod() {
		meth, name := v.Method(i), v.Type().Method(i).Name
		if !unicode.IsUpper(rune(name[0])) || meth.Type().NumIn() != 0 || meth.Type().NumOut() != 1 {
			continue
		}
		m[name] = meth.Call(nil)[0].Interface()
	}
	return json.Marshal(m)
}

// writeInspect prints documents as docker's inspect commands do: an
// indented JSON array; with --format json one compact array; with a
// template, the template run on each document, a line each. A template that
// fails on the typed document is run on its JSON (as docker falls back to
// the raw document), where a missing key is an error.
func writeInspect[T any](w io.Writer, format string, docs []T) error {
	switch format {
	case "":
		b, err := json.MarshalIndent(nonNil(docs), "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintln(w, string(b))
		return err
	case "json":
		return writeJSONLine(w, nonNil(docs))
	}
	tmpl, err := templates.Parse(format)
	if err != nil {
		return fmt.Errorf("--format: template parsing error: %w: %w", err, errdefs.ErrInvalidArgument)
	}
	var out bytes.Buffer
	var errs []error
	for _, d := range docs {
		var buf bytes.Buffer
		if err := tmpl.Execute(&buf, d); err != nil {
			buf.Reset()
			if err := executeOnJSON(tmpl, &buf, d); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		out.Write(buf.Bytes())
		out.WriteByte('\n')
	}
	if _, err := out.WriteTo(w); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func executeOnJSON(tmpl *template.Template, w io.Writer, doc any) error {
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return err
	}
	if err := tmpl.Option("missingkey=error").Execute(w, raw); err != nil {
		return fmt.Errorf("--format: template parsing error: %w", err)
	}
	return nil
}
