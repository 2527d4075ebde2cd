package main

import (
	"context"
	"sync/atomic"

	btpb "cloud.google.com/go/bigtable/apiv2/bigtablepb"
	"google.golang.org/grpc"
)

// writes counts what the Bigtable emulator is asked to write: rows
// (entries of MutateRows, or MutateRow calls) and cells (set-cell
// mutations), the figures Bigtable's write capacity is sized by.
type writes struct {
	rows, cells atomic.Int64
}

func (w *writes) count(req any) {
	switch r := req.(type) {
	case *btpb.MutateRowsRequest:
		for _, e := range r.Entries {
			w.rows.Add(1)
			w.cells.Add(int64(len(e.Mutations)))
		}
	case *btpb.MutateRowRequest:
		w.rows.Add(1)
		w.cells.Add(int64(len(r.Mutations)))
	}
}

func (w *writes) options() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			w.count(req)
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, &countingStream{ServerStream: ss, w: w})
		}),
	}
}

type countingStream struct {
	grpc.ServerStream
	w *writes
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.w.count(m)
	}
	return err
}

// snapshot is the counts so far.
func (w *writes) snapshot() (rows, cells int64) { return w.rows.Load(), w.cells.Load() }
