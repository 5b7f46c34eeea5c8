package dockerapi

import "testing"

func TestLogDetails(t *testing.T) {
	got := LogDetails(map[string]string{"tag": "web 1", "APP_ENV": "a&b", "team": "core"})
	if want := "APP_ENV=a%26b,tag=web+1,team=core"; got != want {
		t.Errorf("LogDetails = %q, want %q", got, want)
	}
	if got := LogDetails(nil); got != "" {
		t.Errorf("LogDetails(nil) = %q", got)
	}
}
