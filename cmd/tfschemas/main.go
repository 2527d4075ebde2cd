// Command tfschemas writes terraform/schemas/bigquery.json from
// internal/warehouse, the one definition of the BigQuery tables:
//
//	go run ./cmd/tfschemas > terraform/schemas/bigquery.json
//
// terraform/check_test.go fails when the file is stale.
package main

import (
	"fmt"
	"os"

	"github.com/adclick/adclick/internal/warehouse"
)

func main() {
	data, err := warehouse.TerraformJSON()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tfschemas:", err)
		os.Exit(1)
	}
	os.Stdout.Write(data)
}
