// Package bqtest is a recording stand-in for BigQuery's REST API, for
// contract tests of the load path: it answers jobs.insert, jobs.get and
// table create/delete as BigQuery does, records every call, and keeps
// which source files each partition was last loaded from, so a test can
// tell whether a failed run left a partition as it was.
package bqtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Server records the calls a BigQuery client makes.
type Server struct {
	URL string

	mu         sync.Mutex
	calls      []Call
	jobs       map[string]map[string]any
	partitions map[string][]string
	failLoads  bool
}

// Call is one request: its method, path and JSON body.
type Call struct {
	Method, Path string
	Body         map[string]any
}

// Start serves until the test ends. Point a client at Endpoint.
func Start(t testing.TB) *Server {
	s := &Server{jobs: map[string]map[string]any{}, partitions: map[string][]string{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Endpoint is the client option value: option.WithEndpoint(s.Endpoint()).
func (s *Server) Endpoint() string { return s.URL + "/bigquery/v2/" }

// FailLoads makes every load job insert answer 500 while on.
func (s *Server) FailLoads(on bool) {
	s.mu.Lock()
	s.failLoads = on
	s.mu.Unlock()
}

// Calls returns the requests so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Inserts returns the bodies of the job inserts that were accepted.
func (s *Server) Inserts() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, c := range s.calls {
		if c.Method == http.MethodPost && strings.HasSuffix(c.Path, "/jobs") && c.Body["status"] != nil {
			out = append(out, c.Body)
		}
	}
	return out
}

// Partition returns the source files the partition (table$yyyymmdd) was
// last loaded from, and whether it was loaded at all.
func (s *Server) Partition(decorated string) ([]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	files, ok := s.partitions[decorated]
	return files, ok
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var body map[string]any
	json.Unmarshal(raw, &body)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Call{r.Method, r.URL.Path, body}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/jobs"):
		if s.failLoads {
			s.calls = append(s.calls, c)
			w.WriteHeader(http.StatusInternalServerError)
			io.WriteString(w, `{"error":{"code":500,"message":"backend error","errors":[{"reason":"backendError","message":"backend error"}]}}`)
			return
		}
		id, _ := Get(body, "jobReference", "jobId").(string)
		if _, dup := s.jobs[id]; dup {
			s.calls = append(s.calls, c)
			w.WriteHeader(http.StatusConflict)
			io.WriteString(w, `{"error":{"code":409,"message":"Already Exists: Job p:`+id+`","errors":[{"reason":"duplicate"}]}}`)
			return
		}
		body["status"] = map[string]any{"state": "DONE"}
		s.jobs[id] = body
		if table, ok := Get(body, "configuration", "load", "destinationTable", "tableId").(string); ok {
			var files []string
			for _, u := range Get(body, "configuration", "load", "sourceUris").([]any) {
				files = append(files, u.(string))
			}
			s.partitions[table] = files
		}
		s.calls = append(s.calls, c)
		json.NewEncoder(w).Encode(body)
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/jobs/"):
		s.calls = append(s.calls, c)
		id := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		if job, ok := s.jobs[id]; ok {
			json.NewEncoder(w).Encode(job)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":404,"message":"no such job"}}`)
	case r.Method == http.MethodDelete:
		s.calls = append(s.calls, c)
		table := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		s.partitions[table] = nil
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/tables"):
		s.calls = append(s.calls, c)
		json.NewEncoder(w).Encode(body)
	default:
		s.calls = append(s.calls, c)
		http.Error(w, `{"error":{"code":404,"message":"not here"}}`, http.StatusNotFound)
	}
}

// Get walks a decoded JSON object by keys; nil where a key is missing.
func Get(m any, path ...string) any {
	for _, p := range path {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[p]
	}
	return m
}
