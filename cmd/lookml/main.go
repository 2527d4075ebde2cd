// Command lookml writes looker/adclick.view.lkml from internal/warehouse's
// table definitions:
//
//	go run ./cmd/lookml > looker/adclick.view.lkml
package main

import (
	"os"

	"github.com/adclick/adclick/internal/warehouse"
)

func main() {
	os.Stdout.Write(warehouse.LookMLViews())
}
