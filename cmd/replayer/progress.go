package main

import (
	"io"
	"os"

	"github.com/rs/zerolog"

	"github.com/tidelog/tidelog/progress"
)

// display draws progress bars on stderr when it is a terminal, and logs
// progress lines otherwise (a journal, a CI log, a test's buffer).
func display(stderr io.Writer, log zerolog.Logger) *progress.Display {
	if f, ok := stderr.(*os.File); ok {
		return progress.New(f, log)
	}
	return progress.Logs(log)
}
