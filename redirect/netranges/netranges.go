// Package netranges is a set of address ranges (CIDRs) with a lookup that
// costs one map probe per distinct prefix length, not one comparison per
// range: the click service checks every click's address against the
// data-centre list, which runs to tens of thousands of ranges.
package netranges

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"sort"
	"strings"
)

// Set is an immutable set of ranges.
type Set struct {
	bits     []int // distinct prefix lengths, longest first
	prefixes map[netip.Prefix]struct{}
}

// Parse reads one CIDR (or a bare address) per line; blank lines and
// lines starting with # are skipped. An unreadable line is an error that
// names it.
func Parse(r io.Reader) (*Set, error) {
	s := &Set{prefixes: map[netip.Prefix]struct{}{}}
	seen := map[int]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		p, err := netip.ParsePrefix(line)
		if err != nil {
			a, aerr := netip.ParseAddr(line)
			if aerr != nil {
				return nil, fmt.Errorf("line %d: %q is neither a CIDR nor an address", n, line)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p = p.Masked()
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		s.prefixes[p] = struct{}{}
		if !seen[p.Bits()] {
			seen[p.Bits()] = true
			s.bits = append(s.bits, p.Bits())
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Sort(sort.Reverse(sort.IntSlice(s.bits)))
	return s, nil
}

// Load parses the file at path.
func Load(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("address ranges: %w", err)
	}
	defer f.Close()
	s, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("address ranges %s: %w", path, err)
	}
	return s, nil
}

// Len is how many ranges the set holds.
func (s *Set) Len() int { return len(s.prefixes) }

// Contains reports whether addr (an IPv4, IPv6 or IPv4-mapped IPv6
// address, as text) falls in a range. A nil set, or text that is not an
// address, contains nothing.
func (s *Set) Contains(addr string) bool {
	if s == nil {
		return false
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, b := range s.bits {
		if b > a.BitLen() {
			continue
		}
		p, err := a.Prefix(b)
		if err != nil {
			continue
		}
		if _, ok := s.prefixes[p]; ok {
			return true
		}
	}
	return false
}
