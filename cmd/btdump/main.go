// Command btdump prints the click counts in the clicks table, for looking
// at what the pipelines wrote (locally: BIGTABLE_EMULATOR_HOST is set by
// `make run`; export it in another shell). Each line is
//
//	<row> <family>:<qualifier> = <count>   (s = provisional, b = final)
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"cloud.google.com/go/bigtable"

	"github.com/adclick/adclick/internal/btschema"
	"github.com/adclick/adclick/internal/gcpnames"
)

func main() {
	project := flag.String("project", gcpnames.LocalProject, "Google Cloud project")
	instance := flag.String("instance", gcpnames.BigtableInstance, "Bigtable instance")
	prefix := flag.String("prefix", "", "only rows starting with this (e.g. m#acme#)")
	flag.Parse()
	ctx := context.Background()
	c, err := bigtable.NewClient(ctx, *project, *instance)
	if err != nil {
		fmt.Fprintln(os.Stderr, "btdump:", err)
		os.Exit(1)
	}
	defer c.Close()
	rr := bigtable.RowRange(bigtable.InfiniteRange(""))
	if *prefix != "" {
		rr = bigtable.PrefixRange(*prefix)
	}
	err = c.Open(btschema.Table).ReadRows(ctx, rr, func(r bigtable.Row) bool {
		for _, cells := range r {
			for _, cell := range cells {
				n, err := btschema.DecodeCount(cell.Value)
				if err != nil {
					fmt.Printf("%s %s = <%v>\n", r.Key(), cell.Column, err)
					continue
				}
				fmt.Printf("%s %s = %d\n", r.Key(), cell.Column, n)
			}
		}
		return true
	}, bigtable.RowFilter(bigtable.LatestNFilter(1)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "btdump:", err)
		os.Exit(1)
	}
}
