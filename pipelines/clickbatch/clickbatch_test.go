package clickbatch

import (
	"reflect"
	"strings"
	"testing"

	"github.com/adclick/adclick/internal/countable"
)

func click(imp, id string, ms int64, ad, adv string, c Class) Click {
	return Click{Impression: countable.ParseID(imp), Rank: countable.Rank{ClickTimeMs: ms, ClickID: countable.ParseID(id)}, AdID: ad, AdvertiserID: adv, CampaignID: "camp-" + ad, PlacementID: "site " + ad + " | slot ü", UserKey: countable.ParseID("u-" + adv), Class: c}
}

func TestCoder(t *testing.T) {
	for _, b := range []Batch{
		{},
		{Clicks: []Click{
			click("00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100", 1764115200123, "ad1", "adv", ClassCounted),
			click("00112233445566778899aabbccddeef0", "ffeeddccbbaa99887766554433221101", 1764115100000, "ad2", "adv", ClassBot),
			click("00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221102", -5, "ad1", "ü", ClassInvalid),
			click("00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221102", 1764115300000, strings.Repeat("z", 300), "", ClassExpired),
			{AdID: "no-campaign", AdvertiserID: "adv"},
		}},
	} {
		got, err := Decode(Encode(b))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, b) {
			t.Errorf("round trip = %+v, want %+v", got, b)
		}
	}
	enc := Encode(Batch{Clicks: []Click{click("i", "c", 5, "ad", "adv", ClassCounted)}})
	for n := range len(enc) {
		if _, err := Decode(enc[:n]); err == nil {
			t.Errorf("decode of %d of %d bytes: no error", n, len(enc))
		}
	}
	if _, err := Decode(append(enc, 0)); err == nil {
		t.Error("decode with a trailing byte: no error")
	}
}

// FuzzDecode: no input makes Decode panic or allocate beyond its input.
func FuzzDecode(f *testing.F) {
	f.Add(Encode(Batch{Clicks: []Click{click("i", "c", 5, "ad", "adv", ClassCounted)}}))
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			return
		}
		if len(b.Clicks)*clickFixed > len(data) {
			t.Fatalf("%d clicks from %d bytes", len(b.Clicks), len(data))
		}
		again, err := Decode(Encode(b))
		if err != nil || !reflect.DeepEqual(again, b) {
			t.Fatalf("re-encoding %+v: %+v, %v", b, again, err)
		}
	})
}

func TestClass(t *testing.T) {
	for _, o := range countable.Outcomes {
		if o == countable.Duplicate || o == countable.InvalidBurst {
			continue // dedupe and the burst rule decide them, not Classify
		}
		if got := ClassOf(o).Outcome(); got != o {
			t.Errorf("ClassOf(%s).Outcome() = %s", o, got)
		}
	}
	if got := Class(200).Outcome(); got != countable.Invalid {
		t.Errorf("an unknown class is %s, want invalid", got)
	}
}

func TestSortFirst(t *testing.T) {
	clicks := []Click{
		click("i", "00000000000000000000000000000003", 10, "ad", "adv", ClassCounted),
		click("i", "00000000000000000000000000000002", 10, "ad", "adv", ClassCounted),
		click("i", "00000000000000000000000000000001", 11, "ad", "adv", ClassCounted),
	}
	SortFirst(clicks)
	var got []string
	for _, c := range clicks {
		got = append(got, c.ClickID.String()[30:])
	}
	if want := []string{"02", "03", "01"}; !reflect.DeepEqual(got, want) {
		t.Errorf("SortFirst order = %v, want %v", got, want)
	}
}
