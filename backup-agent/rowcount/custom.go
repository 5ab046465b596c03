package rowcount

import "fmt"

// Block types of a custom archive's data section.
const (
	blockData  = 1
	blockBlobs = 3
)

// custom counts the rows of a custom-format archive: header and TOC, then
// data blocks (type, dump id, chunks of int length and bytes, a 0 length
// ends) and large-object blocks (oid and chunks, repeated, oid 0 ends).
type custom struct {
	s       stream
	toc     *toc
	data    bool // the TOC was read; data blocks follow
	atBlock bool // waiting for the next block's type byte
	block   byte
	cur     *tableData
	// bound once, so that the per-chunk path allocates nothing
	onTypeFn, onIDFn, onLenFn, onChunkFn, onOIDFn func() error
	sinkFn                                        func([]byte)
}

// NewCustom returns a Counter for a pg_dump -Fc -Z0 archive stream.
func NewCustom() Counter {
	c := &custom{}
	c.onTypeFn, c.onIDFn, c.onLenFn, c.onChunkFn, c.onOIDFn = c.onType, c.onID, c.onLen, c.nextChunk, c.onOID
	c.sinkFn = c.sink
	c.toc = newTOC(&c.s, formatCustom, c.startBlocks)
	return c
}

// Write parses p; it never fails.
func (c *custom) Write(p []byte) (int, error) {
	c.s.write(p)
	return len(p), nil
}

func (c *custom) startBlocks() error {
	c.data = true
	return c.nextBlock()
}

func (c *custom) nextBlock() error {
	c.cur, c.atBlock = nil, true
	c.s.readFixed(1, c.onTypeFn)
	return nil
}

func (c *custom) onType() error {
	c.block, c.atBlock = c.s.last[0], false
	if c.block != blockData && c.block != blockBlobs {
		return fmt.Errorf("%w: data block type %d", ErrMalformed, c.block)
	}
	c.s.readFixed(1+c.toc.intSize, c.onIDFn)
	return nil
}

func (c *custom) onID() error {
	id, err := decodeInt(c.s.last)
	if err != nil {
		return err
	}
	if c.block == blockBlobs {
		c.s.readFixed(1+c.toc.intSize, c.onOIDFn)
		return nil
	}
	if td := c.toc.byID[id]; td != nil {
		if td.seen {
			return fmt.Errorf("%w: two data blocks for TOC entry %d", ErrMalformed, id)
		}
		td.seen = true
		c.cur = td
	}
	return c.nextChunk()
}

func (c *custom) nextChunk() error {
	c.s.readFixed(1+c.toc.intSize, c.onLenFn)
	return nil
}

func (c *custom) onLen() error {
	n, err := decodeInt(c.s.last)
	switch {
	case err != nil:
		return err
	case n < 0:
		return fmt.Errorf("%w: data chunk length %d", ErrMalformed, n)
	case n == 0 && c.block == blockBlobs:
		c.s.readFixed(1+c.toc.intSize, c.onOIDFn)
		return nil
	case n == 0:
		return c.nextBlock()
	}
	var sink func([]byte)
	if c.cur != nil {
		sink = c.sinkFn
	}
	return c.s.readBytes(n, sink, false, c.onChunkFn)
}

func (c *custom) sink(p []byte) { c.cur.rows.write(p) }

// onOID reads the next large object's oid; 0 ends the blobs block.
func (c *custom) onOID() error {
	oid, err := decodeInt(c.s.last)
	if err != nil {
		return err
	}
	if oid == 0 {
		return c.nextBlock()
	}
	return c.nextChunk()
}

// Tables returns the counts once the archive has been read to its end.
func (c *custom) Tables() ([]Table, error) {
	if c.s.err != nil {
		return nil, fmt.Errorf("count rows of custom archive: %w", c.s.err)
	}
	if !c.data {
		return nil, fmt.Errorf("count rows of custom archive: %w: the stream ended in the table of contents", ErrTruncated)
	}
	if !c.atBlock || !c.s.idle() {
		return nil, fmt.Errorf("count rows of custom archive: %w: the stream ended inside a data block", ErrTruncated)
	}
	tables := make([]Table, 0, len(c.toc.entries))
	for _, td := range c.toc.entries {
		if td.hasData && !td.seen {
			return nil, fmt.Errorf("count rows of custom archive: %w: no data for table %s.%s", ErrTruncated, td.schema, td.name)
		}
		tables = append(tables, Table{Schema: td.schema, Name: td.name, Rows: td.rows.rows()})
	}
	return sortTables(tables), nil
}
