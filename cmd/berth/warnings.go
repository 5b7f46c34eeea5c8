package main

import (
	"strings"

	"github.com/sirupsen/logrus"
)

// warningFormatter renders what compose-go logs (through logrus: an unset
// variable, the obsolete version attribute) in berth's own one-line form,
// "WARN message", instead of logrus's key=value lines.
type warningFormatter struct{}

func (warningFormatter) Format(e *logrus.Entry) ([]byte, error) {
	level := strings.ToUpper(e.Level.String())
	if e.Level == logrus.WarnLevel {
		level = "WARN"
	}
	return []byte(level + " " + strings.ReplaceAll(e.Message, "\n", "; ") + "\n"), nil
}

func init() {
	logrus.SetFormatter(warningFormatter{})
}
