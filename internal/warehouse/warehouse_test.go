package warehouse

import (
	"os"
	"strings"
	"testing"
)

// TestLookMLIsCurrent: Looker's views follow the tables; regenerate with
// go run ./cmd/lookml > looker/adclick.view.lkml.
func TestLookMLIsCurrent(t *testing.T) {
	have, err := os.ReadFile("../../looker/adclick.view.lkml")
	if err != nil {
		t.Fatal(err)
	}
	if string(have) != string(LookMLViews()) {
		t.Error("looker/adclick.view.lkml is stale: go run ./cmd/lookml > looker/adclick.view.lkml")
	}
	for _, tbl := range Tables {
		if !strings.Contains(string(have), "view: "+tbl.Name+" {") {
			t.Errorf("no LookML view of %s", tbl.Name)
		}
	}
}
