package rawarchive

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"time"
)

// Reading the archive is the nightly's first cost: goavro decodes each
// record through generic maps (about a fifth of the job's CPU). Files in
// our one schema, uncompressed or deflated (Avro's two mandatory codecs),
// are read here by a decoder of exactly that schema; any other file
// (another codec, a schema that adds or reorders fields) goes through
// goavro, which resolves it by field name. TestFixedReaderMatchesGoavro
// and FuzzFixedReader hold the two to the same records and errors.

// fixedSchema is Schema's record fields, in order, as the file header
// must declare them for the fixed decoder.
var fixedSchema = []struct{ name, typ string }{
	{"subscription_name", `"string"`},
	{"message_id", `"string"`},
	{"publish_time", `{"logicalType":"timestamp-micros","type":"long"}`},
	{"attributes", `{"type":"map","values":"string"}`},
	{"data", `"bytes"`},
}

var errNotFixed = errors.New("not the fixed schema")

// avroName is a full name as the Avro specification (and goavro) allow:
// dot-separated identifiers.
var avroName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// maxBlock bounds one data block (and one header value): a corrupt
// length must not allocate gigabytes.
const maxBlock = 64 << 20

// readFixed reads an archive file of the fixed schema, or returns
// errNotFixed having read only the header (the caller starts over with
// goavro from what r recorded).
func readFixed(r *recorder, fn func(*Record) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	meta, sync, err := readHeader(br)
	if err != nil {
		return err
	}
	codec := string(meta["avro.codec"])
	if codec != "" && codec != "null" && codec != "deflate" || !isFixedSchema(meta["avro.schema"]) {
		return errNotFixed
	}
	r.stop()
	var rec Record
	var block []byte
	for {
		count, err := readLong(br)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read archive file: block count: %w", err)
		}
		size, err := readLong(br)
		if err != nil || count < 0 || size < 0 || size > maxBlock {
			return fmt.Errorf("read archive file: block of %d records in %d bytes (%v)", count, size, err)
		}
		block = grow(block, int(size))
		if _, err := io.ReadFull(br, block); err != nil {
			return fmt.Errorf("read archive file: block: %w", err)
		}
		if codec == "deflate" {
			if block, err = inflate(block); err != nil {
				return fmt.Errorf("read archive file: inflate block: %w", err)
			}
		}
		var marker [16]byte
		if _, err := io.ReadFull(br, marker[:]); err != nil || marker != sync {
			return fmt.Errorf("read archive file: block not followed by the file's sync marker (%v)", err)
		}
		d := decoder{buf: block}
		for range count {
			if err := d.record(&rec); err != nil {
				return fmt.Errorf("read archive record: %w", err)
			}
			if err := fn(&rec); err != nil {
				return err
			}
		}
		if d.i != len(d.buf) {
			return fmt.Errorf("read archive file: %d bytes left in a block of %d records", len(d.buf)-d.i, count)
		}
	}
}

// readHeader reads the magic, the metadata map and the sync marker.
func readHeader(br *bufio.Reader) (map[string][]byte, [16]byte, error) {
	var sync [16]byte
	var magic [4]byte
	if _, err := io.ReadFull(br, magic[:]); err != nil || magic != [4]byte{'O', 'b', 'j', 1} {
		return nil, sync, fmt.Errorf("read archive file: not an Avro object container (%v)", err)
	}
	meta := map[string][]byte{}
	for {
		n, err := readLong(br)
		if err != nil {
			return nil, sync, fmt.Errorf("read archive file: header: %w", err)
		}
		if n == 0 {
			break
		}
		if n < 0 {
			if _, err := readLong(br); err != nil { // the block's size in bytes
				return nil, sync, fmt.Errorf("read archive file: header: %w", err)
			}
			n = -n
		}
		for range n {
			k, err1 := readBytes(br)
			v, err2 := readBytes(br)
			if err := errors.Join(err1, err2); err != nil {
				return nil, sync, fmt.Errorf("read archive file: header: %w", err)
			}
			meta[string(k)] = v
		}
	}
	if _, err := io.ReadFull(br, sync[:]); err != nil {
		return nil, sync, fmt.Errorf("read archive file: sync marker: %w", err)
	}
	return meta, sync, nil
}

// isFixedSchema reports whether schema is a record of fixedSchema's
// fields, in order, of exactly those types.
func isFixedSchema(schema []byte) bool {
	// Keys are matched exactly (encoding/json's struct fields would take
	// "tYpe" for "type"; Avro does not).
	var record map[string]json.RawMessage
	var fields []map[string]json.RawMessage
	var name string
	if json.Unmarshal(schema, &record) != nil || string(record["type"]) != `"record"` ||
		json.Unmarshal(record["name"], &name) != nil || !avroName.MatchString(name) ||
		json.Unmarshal(record["fields"], &fields) != nil || len(fields) != len(fixedSchema) {
		return false
	}
	if ns, ok := record["namespace"]; ok {
		var namespace string
		if json.Unmarshal(ns, &namespace) != nil || namespace != "" && !avroName.MatchString(namespace) {
			return false
		}
	}
	for i, f := range fields {
		var name string
		var typ any
		if json.Unmarshal(f["name"], &name) != nil || name != fixedSchema[i].name || json.Unmarshal(f["type"], &typ) != nil {
			return false
		}
		canonical, _ := json.Marshal(typ) // object keys sorted
		if string(canonical) != fixedSchema[i].typ {
			return false
		}
	}
	return true
}

// readLong reads an Avro long: a zig-zag varint, Go's own varint form.
func readLong(br *bufio.Reader) (int64, error) { return binary.ReadVarint(br) }

func readBytes(br *bufio.Reader) ([]byte, error) {
	n, err := readLong(br)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > maxBlock {
		return nil, fmt.Errorf("a length of %d", n)
	}
	b := make([]byte, n)
	_, err = io.ReadFull(br, b)
	return b, err
}

func grow(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}

func inflate(b []byte) ([]byte, error) {
	return io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), maxBlock+1))
}

// decoder reads records of the fixed schema from one block.
type decoder struct {
	buf []byte
	i   int
}

var errShort = errors.New("record runs past its block")

func (d *decoder) long() (int64, error) {
	v, n := binary.Varint(d.buf[d.i:])
	switch {
	case n == 0:
		return 0, errShort
	case n < 0:
		return 0, errors.New("varint overflows a long")
	}
	d.i += n
	return v, nil
}

// bytes returns the next length-prefixed value, aliasing the block.
func (d *decoder) bytes() ([]byte, error) {
	n, err := d.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > int64(len(d.buf)-d.i) {
		return nil, fmt.Errorf("a length of %d: %w", n, errShort)
	}
	b := d.buf[d.i : d.i+int(n)]
	d.i += int(n)
	return b, nil
}

func (d *decoder) string() (string, error) {
	b, err := d.bytes()
	return string(b), err
}

func (d *decoder) record(rec *Record) error {
	var err error
	if rec.Subscription, err = d.string(); err != nil {
		return fmt.Errorf("subscription_name: %w", err)
	}
	if rec.MessageID, err = d.string(); err != nil {
		return fmt.Errorf("message_id: %w", err)
	}
	micros, err := d.long()
	if err != nil {
		return fmt.Errorf("publish_time: %w", err)
	}
	rec.PublishTime = time.UnixMicro(micros).UTC()
	rec.Attributes = map[string]string{}
	for {
		n, err := d.long()
		if err != nil {
			return fmt.Errorf("attributes: %w", err)
		}
		if n == 0 {
			break
		}
		if n < 0 {
			if _, err := d.long(); err != nil { // the block's size in bytes
				return fmt.Errorf("attributes: %w", err)
			}
			n = -n
		}
		for range n {
			k, err1 := d.string()
			v, err2 := d.string()
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("attributes: %w", err)
			}
			rec.Attributes[k] = v
		}
	}
	data, err := d.bytes()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	rec.Data = append([]byte(nil), data...) // the block is reused
	return nil
}
