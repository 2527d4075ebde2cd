package main

import (
	"fmt"
	"html"
	"net"
	"net/http"
	"time"
)

// startSite serves the stand-in advertiser pages that the sample catalog's
// landing URLs point at, so a click in the browser lands somewhere real
// without leaving the machine.
func startSite(addr string) (*http.Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("advertiser site on %s: %w", addr, err)
	}
	srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Advertiser landing page</title>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Welcome to %s</h1>
<p>You arrived through an adclick link. This page stands in for the advertiser's site in the local stack.</p>
<p><small>query: %s</small></p></body>`, html.EscapeString(r.URL.Path), html.EscapeString(r.URL.RawQuery))
	})}
	go srv.Serve(ln)
	return srv, nil
}
