package rowcount

import (
	"bytes"
	"fmt"
	"path"
	"strconv"
	"strings"
)

const tarBlock = 512

// tarStream splits a tar stream, pushed in pieces, into its regular
// files: for each one it asks open for a sink of the file's bytes. It
// understands ustar, GNU long names ('L') and PAX path and size records.
type tarStream struct {
	err   error
	ended bool // the end-of-archive block was read

	hdr  [tarBlock]byte
	have int

	// The current entry's remaining content and padding.
	left, pad int64
	sink      func([]byte)
	// meta collects a GNU long name or a PAX header, bounded.
	meta     []byte
	metaType byte
	longName string
	paxPath  string
	paxSize  int64 // -1: none

	open func(name string) (func([]byte), error)
}

func newTarStream(open func(name string) (func([]byte), error)) *tarStream {
	return &tarStream{open: open, paxSize: -1}
}

// metaMax bounds a GNU long name or PAX header.
const metaMax = 64 << 10

func (t *tarStream) write(p []byte) {
	for t.err == nil && len(p) > 0 {
		switch {
		case t.ended:
			return // padding after the end of the archive
		case t.left > 0:
			n := min(int64(len(p)), t.left)
			chunk := p[:n]
			p = p[n:]
			t.left -= n
			if t.metaType != 0 {
				if len(t.meta)+len(chunk) > metaMax {
					t.err = fmt.Errorf("%w: tar header entry over %d bytes", ErrMalformed, metaMax)
					return
				}
				t.meta = append(t.meta, chunk...)
			} else if t.sink != nil {
				t.sink(chunk)
			}
			if t.left == 0 {
				t.endContent()
			}
		case t.pad > 0:
			n := min(int64(len(p)), t.pad)
			p = p[n:]
			t.pad -= n
		default:
			n := copy(t.hdr[t.have:], p)
			t.have += n
			p = p[n:]
			if t.have == tarBlock {
				t.have = 0
				t.err = t.header()
			}
		}
	}
}

func (t *tarStream) header() error {
	h := t.hdr[:]
	if bytes.Equal(h, make([]byte, tarBlock)) {
		t.ended = true
		return nil
	}
	if err := checkTarSum(h); err != nil {
		return err
	}
	size, err := tarNumber(h[124:136])
	if err != nil {
		return err
	}
	name := tarString(h[0:100])
	if string(h[257:263]) == "ustar\x00" {
		if prefix := tarString(h[345:500]); prefix != "" {
			name = prefix + "/" + name
		}
	}
	if t.longName != "" {
		name = t.longName
	}
	if t.paxPath != "" {
		name = t.paxPath
	}
	if t.paxSize >= 0 {
		size = t.paxSize
	}
	typ := h[156]
	if typ != 'L' && typ != 'x' && typ != 'g' {
		t.longName, t.paxPath, t.paxSize = "", "", -1
	}
	t.left, t.pad = size, (tarBlock-size%tarBlock)%tarBlock
	t.sink, t.metaType, t.meta = nil, 0, t.meta[:0]
	switch typ {
	case 'L', 'x':
		t.metaType = typ
	case '0', 0:
		if t.sink, err = t.open(path.Clean(name)); err != nil {
			return err
		}
	}
	if t.left == 0 {
		t.endContent()
	}
	return nil
}

// endContent finishes an entry: a GNU long name or PAX header applies
// to the next entry.
func (t *tarStream) endContent() {
	switch t.metaType {
	case 'L':
		t.longName = strings.TrimRight(string(t.meta), "\x00")
	case 'x':
		t.err = t.parsePAX(t.meta)
	}
	t.metaType = 0
}

// parsePAX reads "LEN key=value\n" records, keeping path and size.
func (t *tarStream) parsePAX(b []byte) error {
	for len(b) > 0 {
		sp := bytes.IndexByte(b, ' ')
		if sp <= 0 {
			return fmt.Errorf("%w: bad PAX record", ErrMalformed)
		}
		n, err := strconv.Atoi(string(b[:sp]))
		if err != nil || n <= sp+1 || n > len(b) || b[n-1] != '\n' {
			return fmt.Errorf("%w: bad PAX record", ErrMalformed)
		}
		key, value, ok := strings.Cut(string(b[sp+1:n-1]), "=")
		if !ok {
			return fmt.Errorf("%w: bad PAX record", ErrMalformed)
		}
		switch key {
		case "path":
			t.paxPath = value
		case "size":
			if t.paxSize, err = strconv.ParseInt(value, 10, 64); err != nil || t.paxSize < 0 {
				return fmt.Errorf("%w: bad PAX size %q", ErrMalformed, value)
			}
		}
		b = b[n:]
	}
	return nil
}

func checkTarSum(h []byte) error {
	want, err := tarNumber(h[148:156])
	if err != nil {
		return err
	}
	var sum int64
	for i, b := range h {
		if i >= 148 && i < 156 {
			b = ' '
		}
		sum += int64(b)
	}
	if sum != want {
		return fmt.Errorf("%w: tar header checksum mismatch", ErrMalformed)
	}
	return nil
}

// tarNumber reads an octal field, or a base-256 one (high bit set).
func tarNumber(b []byte) (int64, error) {
	if len(b) > 0 && b[0]&0x80 != 0 {
		var v int64
		for i, c := range b {
			if i == 0 {
				c &= 0x7f
			}
			if v > (1<<62)>>8 {
				return 0, fmt.Errorf("%w: tar number out of range", ErrMalformed)
			}
			v = v<<8 | int64(c)
		}
		return v, nil
	}
	s := strings.Trim(string(b), " \x00")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 8, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%w: tar number %q", ErrMalformed, s)
	}
	return v, nil
}

func tarString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
