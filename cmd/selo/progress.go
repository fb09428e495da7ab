package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// progressBar draws a one-line bar on a terminal and plain lines elsewhere.
type progressBar struct {
	w          io.Writer
	tty        bool
	lastPerc   int
	lastDecile int // the last tenth printed as a plain line
}

func newProgressBar(w io.Writer) *progressBar {
	f, ok := w.(*os.File)
	return &progressBar{w: w, tty: ok && term.IsTerminal(int(f.Fd())), lastPerc: -1, lastDecile: -1}
}

func (p *progressBar) update(done, total int) {
	if total <= 0 {
		total = done
	}
	if total == 0 {
		return
	}
	perc := done * 100 / total
	if perc == p.lastPerc && done != total {
		return
	}
	p.lastPerc = perc
	if p.tty {
		n := perc * 40 / 100
		fmt.Fprintf(p.w, "\r[%s%s] %3d%% %d/%d", strings.Repeat("#", n), strings.Repeat(".", 40-n), perc, done, total)
		return
	}
	// A line each time a new tenth is reached: percentages jump by more than
	// one when there are fewer than 100 items, and may skip every multiple of 10.
	if d := perc / 10; d > p.lastDecile {
		p.lastDecile = d
		fmt.Fprintf(p.w, "progress: %d/%d (%d%%)\n", done, total, perc)
	}
}

func (p *progressBar) note(msg string) {
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintln(p.w, msg)
}

func (p *progressBar) finish() {
	if p.tty && p.lastPerc >= 0 {
		fmt.Fprintln(p.w)
	}
}
