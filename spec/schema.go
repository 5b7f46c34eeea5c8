package spec

import "github.com/santhosh-tekuri/jsonschema/v6"

// compose-go validates every Compose file against its JSON schema, which it
// compiles once per process. The jsonschema module is berth's patched copy
// (third_party/jsonschema): with ValidateSchemas off, it compiles that
// schema without first validating it against draft-07's metaschema, a
// fixed outcome for a schema fixed at build time (TestComposeSchemaIsValid
// checks it) that was more than half of the compilation: about 7 ms of CPU
// in every process that loads a Compose file through compose-go.
func init() {
	jsonschema.ValidateSchemas = false
}
