package faultproxy

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echo serves lines back to the sender.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					c.Write([]byte(line))
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	_, err = bufio.NewReader(c).ReadString('\n')
	return err
}

func TestSetDown(t *testing.T) {
	p, err := Start("127.0.0.1:0", echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := roundTrip(p.Addr()); err != nil {
		t.Fatalf("up: %v", err)
	}
	// An open connection is cut when the proxy goes down.
	open, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	open.Write([]byte("hi\n"))
	bufio.NewReader(open).ReadString('\n')
	p.SetDown(true)
	open.SetDeadline(time.Now().Add(time.Second))
	if _, err := bufio.NewReader(open).ReadString('\n'); err == nil {
		t.Error("open connection survived SetDown(true)")
	}
	if err := roundTrip(p.Addr()); err == nil {
		t.Error("new connection worked while down")
	}
	p.SetDown(false)
	if err := roundTrip(p.Addr()); err != nil {
		t.Errorf("after SetDown(false): %v", err)
	}
}
