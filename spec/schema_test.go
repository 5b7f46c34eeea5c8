package spec

import (
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/schema"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// compileWithValidation compiles doc as compose-go compiles its schema, with
// the metaschema validation that berth turns off at run time turned on.
func compileWithValidation(t *testing.T, doc string) error {
	t.Helper()
	jsonschema.ValidateSchemas = true
	t.Cleanup(func() { jsonschema.ValidateSchemas = false })
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		return err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("compose-spec.json", v); err != nil {
		return err
	}
	_, err = c.Compile("compose-spec.json")
	return err
}

// The schema berth compiles without validating it is valid: what the
// validation would have found at every run, found once here.
func TestComposeSchemaIsValid(t *testing.T) {
	if jsonschema.ValidateSchemas {
		t.Fatal("berth's processes validate compose-go's schema against its metaschema at every load")
	}
	if err := compileWithValidation(t, schema.Schema); err != nil {
		t.Fatalf("compose-go's schema against draft-07's metaschema: %v", err)
	}
	// The check can fail: a schema that breaks the metaschema is refused.
	bad := strings.Replace(schema.Schema, `"type": "object"`, `"type": 5`, 1)
	if bad == schema.Schema {
		t.Fatal("no \"type\": \"object\" in compose-go's schema to break")
	}
	if err := compileWithValidation(t, bad); err == nil {
		t.Fatal("a schema with \"type\": 5 passed the metaschema validation")
	}
}
