package build

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// TestCheck: each check Check runs, on the line BuildKit reports it, with
// BuildKit's message; a clean Dockerfile has no finding; a check=skip
// directive skips its rules.
func TestCheck(t *testing.T) {
	df := `FROM busybox AS Base
maintainer someone
from base AS build
ENV API_TOKEN abc
LABEL team core
WORKDIR app
EXPOSE 80/TCP 8080:80
CMD echo one
CMD ["echo", "two"]
FROM busybox AS build
ARG DB_PASSWORD
ENTRYPOINT echo
`
	ws, err := Check([]byte(df), "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range ws {
		got = append(got, w.Rule+"@"+string(rune('0'+w.Line/10))+string(rune('0'+w.Line%10)))
	}
	want := []string{
		"StageNameCasing@01",
		"MaintainerDeprecated@02", "ConsistentInstructionCasing@02",
		"FromAsCasing@03", "ConsistentInstructionCasing@03",
		"LegacyKeyValueFormat@04", "SecretsUsedInArgOrEnv@04",
		"LegacyKeyValueFormat@05",
		"WorkdirRelativePath@06",
		"ExposeProtoCasing@07", "ExposeInvalidFormat@07",
		"JSONArgsRecommended@08", "MultipleInstructionsDisallowed@08",
		"DuplicateStageName@10",
		"SecretsUsedInArgOrEnv@11",
		"JSONArgsRecommended@12",
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("findings:\n%q\nwant:\n%q", got, want)
	}
	for _, w := range ws {
		if w.Rule == "JSONArgsRecommended" && w.Line == 8 && w.Detail != "JSON arguments recommended for CMD to prevent unintended behavior related to OS signals" {
			t.Errorf("JSONArgsRecommended detail %q", w.Detail)
		}
		if w.URL == "" || w.Description == "" {
			t.Errorf("%s: no URL or description", w.Rule)
		}
	}

	clean := "FROM busybox AS base\nWORKDIR /app\nENV A=1\nCMD [\"sh\"]\n"
	if ws, err := Check([]byte(clean), ""); err != nil || len(ws) != 0 {
		t.Errorf("a clean Dockerfile: %+v, %v", ws, err)
	}
	skipped := "# check=skip=JSONArgsRecommended\nFROM busybox\nCMD echo hi\n"
	if ws, err := Check([]byte(skipped), ""); err != nil || len(ws) != 0 {
		t.Errorf("check=skip: %+v, %v", ws, err)
	}
	if _, err := Check([]byte("FROM busybox\nNOPE x\n"), "Dockerfile.dev"); err == nil || !strings.Contains(err.Error(), "Dockerfile.dev") {
		t.Errorf("a Dockerfile that does not parse: %v", err)
	}
}

// TestPrintWarnings: a finding printed as BuildKit prints it, the lines
// around it quoted.
func TestPrintWarnings(t *testing.T) {
	df := "FROM busybox\nRUN true\nCMD echo hi\nRUN true\n"
	ws, err := Check([]byte(df), "")
	if err != nil || len(ws) != 1 {
		t.Fatalf("%+v, %v", ws, err)
	}
	var b bytes.Buffer
	PrintWarnings(&b, "Dockerfile", []byte(df), ws)
	want := `
WARNING: JSONArgsRecommended - https://docs.docker.com/go/dockerfile/rule/json-args-recommended/
JSON arguments recommended for CMD to prevent unintended behavior related to OS signals
Dockerfile:3
--------------------
   1 |     FROM busybox
   2 |     RUN true
   3 | >>> CMD echo hi
   4 |     RUN true
   5 |     
--------------------
`
	if b.String() != want {
		t.Errorf("printed:\n%s\nwant:\n%s", b.String(), want)
	}
}
