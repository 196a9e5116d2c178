package main

import (
	"encoding/csv"
	"io"

	"github.com/cryptoshred/cryptoshred/internal/safetext"
)

// writeCSV writes rows as RFC 4180 CSV. Every cell is outside text (names,
// purposes, addresses others wrote), so control characters are escaped
// and a cell a spreadsheet would run as a formula is neutralised.
func writeCSV(w io.Writer, rows [][]string) error {
	cw := csv.NewWriter(w)
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = csvCell(c)
		}
		if err := cw.Write(cells); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvCell returns s escaped and, if it starts with a character that makes
// a spreadsheet read it as a formula (=, +, -, @, or a tab or carriage
// return before one), with a leading apostrophe (OWASP's advice on CSV
// injection).
func csvCell(s string) string {
	if s != "" {
		switch s[0] {
		case '=', '+', '-', '@', '\t', '\r':
			s = "'" + s
		}
	}
	return safetext.Escape(s)
}
