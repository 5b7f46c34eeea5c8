package spec

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/compose-spec/compose-go/v2/dotenv"
)

// An env_file entry with format: raw is read as Docker Compose reads it:
// each line is KEY=VALUE taken literally, with no quotes removed and no
// variable expanded; blank lines and lines starting with # are skipped.
func init() {
	dotenv.RegisterFormat("raw", parseRawEnv)
}

func parseRawEnv(r io.Reader, filename string, vars map[string]string, _ func(string) (string, bool)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" {
			return fmt.Errorf("%s:%d: want KEY=VALUE", filename, n)
		}
		vars[key] = value
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", filename, err)
	}
	return nil
}
